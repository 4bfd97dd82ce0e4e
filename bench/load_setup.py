"""What `bench.load` and `bench.ratio` set up: the organization, the simulator, the servers.

The simulated providers' delays live here too, with the floor they impose on voice to voice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import psutil

from bench.latency import utterances
from core.processes import (
    ASGI_APPLICATION,
    answers,
    asgi_server_command,
    free_port,
    stop,
    wait_until_ready,
)
from voice.engine.audio.files import read_audio_file
from voice.engine.audio.resample import resample

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_AUDIO = REPO_ROOT / "testdata" / "audio"
RATE_HZ = 24_000
SLUG = "loadbench"

# What the simulated providers cost, as cloud APIs roughly do.
STT_DELAY_MS = 150
LLM_FIRST_TOKEN_MS = 250
LLM_INTER_TOKEN_MS = 15
TTS_FIRST_AUDIO_MS = 100
TTS_INTER_CHUNK_MS = 20
SILENCE_MS = 500
# The turn detector calls a pause after 100 ms of silence; eager speculation starts then.
SPECULATION_START_MS = 100
REPLY = "Sure. I can help with that, tell me more."
# "Sure." is a clause once the next token shows it ended.
FIRST_CLAUSE_TOKENS = 2
AURA_ASGI = ASGI_APPLICATION


def floor_ms() -> float:
    """The least voice to voice the providers allow: transcription, the first token and the
    first audio run during the end-of-turn silence (speculation), so the floor is the longer
    of that chain and the silence itself."""
    chain = (
        SPECULATION_START_MS
        + STT_DELAY_MS
        + LLM_FIRST_TOKEN_MS
        + FIRST_CLAUSE_TOKENS * LLM_INTER_TOKEN_MS
        + TTS_FIRST_AUDIO_MS
    )
    return float(max(SILENCE_MS, chain))


def provision(simulator_url: str) -> str:
    """The load-test organization with a simulator-backed agent; returns a fresh sk_ key."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aura_project.settings.dev")
    import django

    django.setup()
    from django_tenants.utils import schema_context

    from tenants.models import Organization
    from tenants.services import api_key_create, organization_create
    from voice.models import Agent

    organization = Organization.objects.filter(slug=SLUG).first() or organization_create(
        slug=SLUG, name="Load benchmark", plan=Organization.Plan.ENTERPRISE
    )

    def route(model: str) -> list[dict[str, str]]:
        return [{"provider": "openai_compatible", "model": model, "base_url": simulator_url}]

    with schema_context(organization.schema_name):
        Agent.objects.filter(is_default=True).update(
            stt_routes=route(f"sim-stt+slow-first-token:{STT_DELAY_MS}"),
            llm_routes=route(
                f"sim-llm+slow-first-token:{LLM_FIRST_TOKEN_MS}"
                f"+inter-token:{LLM_INTER_TOKEN_MS}+say:{REPLY}"
            ),
            tts_routes=route(
                f"sim-tts+slow-first-token:{TTS_FIRST_AUDIO_MS}+inter-token:{TTS_INTER_CHUNK_MS}"
            ),
            turn_detection={"type": "server_vad", "silence_duration_ms": SILENCE_MS},
            builtin_tools=[],
            memory_enabled=False,
        )
    return api_key_create(organization=organization, name="load benchmark").plaintext


@contextmanager
def process(
    command: list[str],
    health_url: str,
    env: dict[str, str],
    log: Path,
    *,
    cwd: Path = REPO_ROOT,
) -> Iterator[psutil.Process]:
    """A child process logging to `log`, once `health_url` answers; stopped on exit."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as output:
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=output)
    try:
        wait_until_ready(
            child, lambda: answers(health_url), name=command[2], timeout_s=60, interval_s=0.2
        )
        yield psutil.Process(child.pid)
    finally:
        stop(child)


def load_utterance(name: str) -> bytes:
    audio, rate_hz = read_audio_file(TEST_AUDIO / name)
    pieces: list[npt.NDArray[np.int16]] = utterances(resample(audio, rate_hz, RATE_HZ), RATE_HZ)
    # Cut at the end of speech, so that "the user stopped talking" is when the audio ends.
    return pieces[0].astype("<i2").tobytes()


ENV = {
    **os.environ,
    # The development settings (no production secrets needed), whatever asgi.py defaults to.
    "DJANGO_SETTINGS_MODULE": "aura_project.settings.dev",
    "AURA_WARM_UP_LOCAL_MODELS": "false",
    "PYTHONUNBUFFERED": "1",
    # The simulator listens on loopback, which tenants' routes may not reach unless allowed.
    "AURA_PROVIDER_ALLOWED_HOSTS": "127.0.0.1",
    # As in production: with DEBUG on, Django times and keeps every query the sessions make.
    "DEBUG": "false",
}


def start_simulator(stack: ExitStack, port: int, logs: Path) -> psutil.Process:
    command = [sys.executable, "-m", "bench.openai_simulator", "--port", str(port)]
    health_url = f"http://127.0.0.1:{port}/_sim/health"
    return stack.enter_context(process(command, health_url, ENV, logs / "sim.log"))


@dataclass
class SimulatedBench:
    """The load-test organization's key and the simulator its agent's routes point at."""

    key: str
    simulator: psutil.Process
    simulator_port: int

    @property
    def simulator_url(self) -> str:
        return f"http://127.0.0.1:{self.simulator_port}/v1"


def start_simulated_bench(stack: ExitStack, logs: Path) -> SimulatedBench:
    """Provision the organization against a simulator on a free port, then start that simulator."""
    port = free_port()
    key = provision(f"http://127.0.0.1:{port}/v1")
    return SimulatedBench(key, start_simulator(stack, port, logs), port)


@dataclass
class Servers:
    """Server processes (daphne or uvicorn) on their own ports, as a deployment runs them behind
    a balancer."""

    bases: list[str]
    processes: list[psutil.Process]
    server: str = "daphne"

    @property
    def urls(self) -> list[str]:
        return [f"ws://{base}/v1/realtime?aura=1" for base in self.bases]


def daphne_command(port: int | str) -> list[str]:
    """daphne serving AURA on `port`, with the Procfile's flags."""
    return asgi_server_command("daphne", port)


def start_servers(
    stack: ExitStack,
    count: int,
    logs: Path,
    *,
    tree: Path = REPO_ROOT,
    name: str | None = None,
    env: dict[str, str] | None = None,
    server: str = "daphne",
) -> Servers:
    """`count` processes of `server` (daphne or uvicorn, with the same limits:
    core/processes.py) serving the code of `tree` (a checkout of another revision for an A/B
    run; the same virtualenv and database)."""
    bases = [f"127.0.0.1:{free_port()}" for _ in range(count)]
    # `python -m` puts the working directory first on sys.path: the tree's code is served.
    env = env or {**ENV, "PYTHONPATH": str(tree)}
    processes = [
        stack.enter_context(
            process(
                asgi_server_command(server, base.split(":")[1]),
                f"http://{base}/healthz",
                env,
                logs / f"{name or server}-{index}.log",
                cwd=tree,
            )
        )
        for index, base in enumerate(bases)
    ]
    return Servers(bases, processes, server)


def pin_to_cores(servers: list[list[psutil.Process]], others: list[psutil.Process]) -> str:
    """Server process i of each variant on core (last - i), `others` on the cores left; every
    thread of each process (Linux pins threads one by one; later ones inherit). Returns what
    was done, to print."""
    cores = sorted(os.sched_getaffinity(0))
    count = max(len(processes) for processes in servers)
    server_cores, other_cores = cores[len(cores) - count :], cores[: len(cores) - count]
    for processes in servers:
        for index, server in enumerate(processes):
            _pin(server, {server_cores[-1 - index]})
    for other in others:
        _pin(other, set(other_cores))
    return f"pinned: servers on cores {server_cores}, load client and simulator on {other_cores}"


def _pin(process: psutil.Process, cores: set[int]) -> None:
    for thread in process.threads():
        os.sched_setaffinity(thread.id, cores)
