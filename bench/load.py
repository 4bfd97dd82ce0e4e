"""Many concurrent realtime sessions against AURA server processes: what AURA itself adds.

    .venv/bin/python -m bench.load [--sessions 200] [--turns 2] [--out bench/results]

Needs PostgreSQL and Redis (as `make run` does) and the migrated development database. The
script provisions an organization `loadbench` whose agent's STT, LLM and TTS routes all point
at the OpenAI-protocol simulator (bench/openai_simulator.py) with fixed, realistic delays,
starts the simulator and --servers daphne processes (one per core, as a deployment runs
them behind a load balancer), then opens N WebSocket sessions (ramped up over
--ramp-s seconds). Each session speaks a real recording from testdata/audio in real time, as
`input_audio_buffer.append` events of --chunk-ms, keeps its microphone open with silence, and
waits for the spoken answer, --turns times.

Reported (p50/p95/p99 over all turns):
- voice to voice: from the end of the user's speech to the first answer audio at the client;
- server-added: voice to voice under load minus what one session alone gets on the same server
  (measured first), i.e. what concurrency costs: queueing, event-loop lag, CPU contention;
- fixed overhead: that lone session's voice to voice minus the floor that the simulated
  providers and the end-of-turn silence impose (see `floor_ms`): AURA's own per-turn cost;
- the server's event-loop lag (from its /metrics), CPU and memory per session, and errors.
Client and server share the machine, so the figures are an upper bound of AURA's overhead.

Ratio mode (scale-out across processes; bench/ratio.py):

    .venv/bin/python -m bench.load --ratio [--target-p99-ms 50] [--compare 1 3]

For each process count in --compare, starts that many daphne processes and finds the most
sessions they hold with a server-added p99 at or under --target-p99-ms and no errors: the
session count grows by --growth from --start-sessions until the p99 goes over the target (or
--max-sessions), then a bisection between the last level held and the first one lost narrows it
to --resolution. Reports every level measured, the capacity of each process count, the ratio
capacity(last)/capacity(first), os.cpu_count(), the load average before and after, and per level
the CPU share of processes that are not the benchmark's (other work on a shared machine moves
the figures; it is recorded, not controlled). Figures and caveats: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import psutil
from websockets.asyncio.client import ClientConnection, connect

from bench.latency import UTTERANCE_PAD_MS, utterances
from voice.engine.audio.files import read_audio_file
from voice.engine.audio.resample import resample
from voice.engine.compute import cpu_count

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
# The turn detector calls a pause after 100 ms of silence; speculation starts then.
SPECULATION_START_MS = 100
REPLY = "Sure. I can help with that, tell me more."
# "Sure." is a clause once the next token shows it ended.
FIRST_CLAUSE_TOKENS = 2


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


# --- set-up: organization, simulator, server ----------------------------------------------


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


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def process(
    command: list[str], health_url: str, env: dict[str, str], log: Path
) -> Iterator[psutil.Process]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as output:
        child = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + 60
        while True:
            if child.poll() is not None:
                raise RuntimeError(f"{command[2]} exited with code {child.returncode}")
            try:
                with urllib.request.urlopen(health_url, timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield psutil.Process(child.pid)
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()


# --- one client session -------------------------------------------------------------------


@dataclass
class Turn:
    voice_to_voice_ms: float
    # The server's own account of the turn (aura.turn.metrics): where the time went.
    engine: dict[str, Any] = field(default_factory=dict)


@dataclass
class SessionResult:
    turns: list[Turn] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Speaker:
    """A client session: speaks the utterance, keeps the microphone open, times the answer."""

    def __init__(self, socket: ClientConnection, utterance: bytes, chunk_ms: int) -> None:
        self.socket = socket
        self.utterance = utterance
        self.chunk_bytes = RATE_HZ * 2 * chunk_ms // 1000
        self.chunk_s = chunk_ms / 1000
        self.speech_end_at: float | None = None

    def _append(self, pcm: bytes) -> str:
        audio = base64.b64encode(pcm).decode()
        return json.dumps({"type": "input_audio_buffer.append", "audio": audio})

    async def microphone(self, turns: int, turn_done: asyncio.Queue[None]) -> None:
        silence = self._append(bytes(self.chunk_bytes))
        speech = [
            self._append(self.utterance[i : i + self.chunk_bytes])
            for i in range(0, len(self.utterance), self.chunk_bytes)
        ]
        started = time.monotonic()
        sent = 0

        async def send(frame: str) -> None:
            nonlocal sent
            await self.socket.send(frame)
            sent += 1
            await asyncio.sleep(max(0.0, started + sent * self.chunk_s - time.monotonic()))

        for _ in range(turns):
            for frame in speech:
                await send(frame)
            # The user stopped talking when the last chunk was due (paced to the schedule),
            # less the bit of silence the utterance was cut with.
            self.speech_end_at = started + sent * self.chunk_s - UTTERANCE_PAD_MS / 1000
            while turn_done.empty():
                await send(silence)
            await turn_done.get()
            for _ in range(int(1 / self.chunk_s)):  # a second's pause before speaking again
                await send(silence)


async def run_session(
    url: str, key: str, utterance: bytes, *, turns: int, chunk_ms: int, delay_s: float
) -> SessionResult:
    await asyncio.sleep(delay_s)
    result = SessionResult()
    try:
        async with connect(
            url,
            additional_headers={"Authorization": f"Bearer {key}"},
            max_size=None,
            open_timeout=30,
        ) as socket:
            speaker = Speaker(socket, utterance, chunk_ms)
            turn_done: asyncio.Queue[None] = asyncio.Queue()
            microphone = asyncio.create_task(speaker.microphone(turns, turn_done))
            try:
                await asyncio.wait_for(listen(socket, speaker, turn_done, result, turns), 120)
            finally:
                microphone.cancel()
                await asyncio.gather(microphone, return_exceptions=True)
    except (OSError, TimeoutError) as error:
        result.errors.append(f"{type(error).__name__}: {error}")
    except Exception as error:  # a closed socket, a protocol error: counted, never fatal
        result.errors.append(f"{type(error).__name__}: {error}")
    return result


async def listen(
    socket: ClientConnection,
    speaker: Speaker,
    turn_done: asyncio.Queue[None],
    result: SessionResult,
    turns: int,
) -> None:
    first_audio_at: float | None = None
    async for message in socket:
        # Audio deltas are most of the traffic: recognise them without parsing the JSON.
        if isinstance(message, bytes) or '"response.output_audio.delta"' in message[:120]:
            if first_audio_at is None and speaker.speech_end_at is not None:
                first_audio_at = time.monotonic()
                v2v = (first_audio_at - speaker.speech_end_at) * 1000
                result.turns.append(Turn(voice_to_voice_ms=v2v))
            continue
        event = json.loads(message)
        kind = event["type"]
        if kind == "error":
            result.errors.append(f"{event['error'].get('code')}: {event['error'].get('message')}")
        elif kind == "aura.turn.metrics" and result.turns:
            result.turns[-1].engine = event
        elif kind == "response.done":
            if event["response"]["status"] != "completed":
                result.errors.append(f"response {event['response']['status']}")
            first_audio_at = None
            speaker.speech_end_at = None
            turn_done.put_nowait(None)
            if len(result.turns) + len(result.errors) >= turns:
                return


# --- the run ------------------------------------------------------------------------------


def scrape_lag(metrics_url: str) -> dict[float, float]:
    """Cumulative bucket counts of the server's event-loop lag histogram."""
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        text = response.read().decode()
    buckets = {}
    for line in text.splitlines():
        if line.startswith("aura_event_loop_lag_seconds_bucket"):
            bound = line.split('le="')[1].split('"')[0]
            buckets[float("inf") if bound == "+Inf" else float(bound)] = float(line.split()[-1])
    return buckets


def lag_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """Upper bound (bucket edge, ms) of the q-quantile of the lag samples taken in between."""
    counts = {bound: after[bound] - before.get(bound, 0.0) for bound in sorted(after)}
    total = counts[float("inf")]
    for bound, count in counts.items():
        if total and count >= q * total:
            return bound * 1000
    return 0.0


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    array = np.array(values)
    return {
        "p50": float(np.percentile(array, 50)),
        "p95": float(np.percentile(array, 95)),
        "p99": float(np.percentile(array, 99)),
        "max": float(array.max()),
    }


async def drive(
    urls: list[str],
    key: str,
    utterance: bytes,
    *,
    sessions: int,
    turns: int,
    chunk_ms: int,
    ramp_s: float,
) -> list[SessionResult]:
    """All sessions, spread over the servers as a load balancer would (round robin)."""
    tasks = [
        run_session(
            urls[index % len(urls)],
            key,
            utterance,
            turns=turns,
            chunk_ms=chunk_ms,
            delay_s=ramp_s * index / sessions,
        )
        for index in range(sessions)
    ]
    return list(await asyncio.gather(*tasks))


def scrape_all(bases: list[str]) -> dict[float, float]:
    total: dict[float, float] = {}
    for base in bases:
        for bound, count in scrape_lag(f"http://{base}/metrics").items():
            total[bound] = total.get(bound, 0.0) + count
    return total


def load_utterance(name: str) -> bytes:
    audio, rate_hz = read_audio_file(TEST_AUDIO / name)
    pieces: list[npt.NDArray[np.int16]] = utterances(resample(audio, rate_hz, RATE_HZ), RATE_HZ)
    # Cut at the end of speech, so that "the user stopped talking" is when the audio ends.
    return pieces[0].astype("<i2").tobytes()


ENV = {
    **os.environ,
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
class Servers:
    """daphne processes on their own ports, as a deployment runs them behind a balancer."""

    bases: list[str]
    processes: list[psutil.Process]

    @property
    def urls(self) -> list[str]:
        return [f"ws://{base}/v1/realtime?aura=1" for base in self.bases]


DAPHNE = [sys.executable, "-m", "daphne"]
# As in the Procfile: one WebSocket message limit (above AURA's own 1 MiB event limit) and a
# close timeout longer than the shutdown grace period.
DAPHNE_FLAGS = [
    "--websocket-max-message-size",
    "2097152",
    "--websocket-max-frame-size",
    "2097152",
    "--application-close-timeout",
    "30",
]


def start_servers(stack: ExitStack, count: int, logs: Path) -> Servers:
    bases = [f"127.0.0.1:{free_port()}" for _ in range(count)]
    processes = [
        stack.enter_context(
            process(
                [*DAPHNE, "-p", base.split(":")[1], *DAPHNE_FLAGS, "aura_project.asgi:application"],
                f"http://{base}/healthz",
                ENV,
                logs / f"daphne-{index}.log",
            )
        )
        for index, base in enumerate(bases)
    ]
    return Servers(bases, processes)


def lone_voice_to_voice_ms(url: str, key: str, utterance: bytes, chunk_ms: int) -> list[float]:
    """Voice to voice of each turn of one session alone on the server (3 turns)."""
    alone = asyncio.run(run_session(url, key, utterance, turns=3, chunk_ms=chunk_ms, delay_s=0))
    if alone.errors or not alone.turns:
        raise SystemExit(f"a lone session failed: {alone.errors}")
    return [turn.voice_to_voice_ms for turn in alone.turns]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--chunk-ms", type=int, default=100)
    parser.add_argument(
        "--ramp-s", type=float, default=None, help="spread of session starts (15 s; ratio: 5 s)"
    )
    parser.add_argument("--recording", default="english.wav")
    parser.add_argument(
        "--servers", type=int, default=1, help="daphne processes (one per core, as deployed)"
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    ratio = parser.add_argument_group("ratio mode: sessions held at one p99, N processes vs 1")
    ratio.add_argument("--ratio", action="store_true", help="run the ratio mode")
    ratio.add_argument("--compare", type=int, nargs="+", default=[1, 3], metavar="N")
    ratio.add_argument("--target-p99-ms", type=float, default=50.0)
    ratio.add_argument("--start-sessions", type=int, default=10)
    ratio.add_argument("--growth", type=float, default=1.5)
    ratio.add_argument("--max-sessions", type=int, default=300)
    ratio.add_argument(
        "--resolution", type=float, default=0.1, help="bisect until within this fraction"
    )
    args = parser.parse_args()
    if args.ramp_s is None:
        args.ramp_s = 5.0 if args.ratio else 15.0
    return args


def main() -> None:
    args = parse_args()
    if args.ratio:
        from bench.ratio import run_ratio

        run_ratio(args)
        return
    sim_port = free_port()
    key = provision(f"http://127.0.0.1:{sim_port}/v1")
    utterance = load_utterance(args.recording)
    logs = args.out / "load-logs"
    with ExitStack() as stack:
        simulated = start_simulator(stack, sim_port, logs)
        servers = start_servers(stack, args.servers, logs)
        urls, bases = servers.urls, servers.bases
        baseline_ms = statistics.median(
            lone_voice_to_voice_ms(urls[0], key, utterance, args.chunk_ms)
        )
        sim_admin = f"http://127.0.0.1:{sim_port}/_sim"
        urllib.request.urlopen(urllib.request.Request(f"{sim_admin}/reset", method="POST"))
        lag_before = scrape_all(bases)
        rss_before = sum(server.memory_info().rss for server in servers.processes)
        client = psutil.Process()
        for measured in (*servers.processes, simulated, client):
            measured.cpu_percent()
        started = time.monotonic()
        results = asyncio.run(
            drive(
                urls,
                key,
                utterance,
                sessions=args.sessions,
                turns=args.turns,
                chunk_ms=args.chunk_ms,
                ramp_s=args.ramp_s,
            )
        )
        elapsed_s = time.monotonic() - started
        cpu_percent = {
            **{
                f"server_{index}": server.cpu_percent()
                for index, server in enumerate(servers.processes)
            },
            "simulator": simulated.cpu_percent(),
            "load_client": client.cpu_percent(),
        }
        rss_after = sum(server.memory_info().rss for server in servers.processes)
        lag_after = scrape_all(bases)
        with urllib.request.urlopen(f"{sim_admin}/requests", timeout=10) as answer:
            provider_requests = requests_by_stage(json.load(answer)["counts"])
    report(
        args,
        results,
        baseline_ms,
        elapsed_s,
        cpu_percent,
        (rss_before, rss_after),
        (lag_before, lag_after),
        provider_requests,
    )


def requests_by_stage(counts: dict[str, int]) -> dict[str, int]:
    """The simulator's request counts per model as counts per stage ("sim-stt+..." is stt)."""
    by_stage: Counter[str] = Counter()
    for model, count in counts.items():
        by_stage[model.split("+")[0].removeprefix("sim-")] += count
    return dict(by_stage)


def report(
    args: argparse.Namespace,
    results: list[SessionResult],
    baseline_ms: float,
    elapsed_s: float,
    cpu_percent: dict[str, float],
    rss: tuple[int, int],
    lag: tuple[dict[float, float], dict[float, float]],
    provider_requests: dict[str, int],
) -> None:
    rss_before, rss_after = rss
    lag_before, lag_after = lag
    turns = [turn for result in results for turn in result.turns]
    errors = [error for result in results for error in result.errors]
    v2v = [turn.voice_to_voice_ms for turn in turns]
    added = [value - baseline_ms for value in v2v]

    def engine(name: str, minus: float = 0.0) -> dict[str, float]:
        values = [t.engine[name] - minus for t in turns if t.engine.get(name) is not None]
        return percentiles(values)

    summary = {
        "sessions": args.sessions,
        "servers": args.servers,
        "turns_per_session": args.turns,
        "chunk_ms": args.chunk_ms,
        "cores": cpu_count(),
        "machine": platform.machine(),
        "turns_measured": len(turns),
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:10],
        "floor_ms": floor_ms(),
        "lone_session_voice_to_voice_ms": baseline_ms,
        "fixed_overhead_ms": baseline_ms - floor_ms(),
        "voice_to_voice_ms": percentiles(v2v),
        "server_added_ms": percentiles(added),
        "engine_ms": {
            "voice_to_voice": engine("voice_to_voice_ms"),
            "stt_after_speech_stopped": engine("stt_ms"),
            "llm_first_token_over_simulated": engine("llm_first_token_ms", LLM_FIRST_TOKEN_MS),
            "tts_first_audio_over_simulated": engine("tts_first_audio_ms", TTS_FIRST_AUDIO_MS),
        },
        "event_loop_lag_ms": {
            "p50_at_most": lag_quantile(lag_before, lag_after, 0.5),
            "p99_at_most": lag_quantile(lag_before, lag_after, 0.99),
        },
        # 100 = one core busy; the client and simulator share the machine with the server.
        "cpu_percent_of_one_core": cpu_percent,
        "server_memory_mb_per_session": (rss_after - rss_before) / 2**20 / args.sessions,
        # More STT than turns: speculative transcriptions in pauses that were not the end.
        "provider_requests_per_turn": {
            stage: round(count / max(1, len(turns)), 2)
            for stage, count in sorted(provider_requests.items())
        },
        "elapsed_s": elapsed_s,
    }
    print(json.dumps(summary, indent=2))
    # Every turn, for finding where the slow ones lost their time (not printed).
    summary["turns"] = [
        {"client_voice_to_voice_ms": t.voice_to_voice_ms, **t.engine} for t in turns
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"load-{args.sessions}x{args.servers}.json"
    path.write_text(json.dumps(summary, indent=2))
    print(f"wrote {path}")
    if turns:
        print(
            f"\n{args.sessions} sessions on {cpu_count()} cores: voice to voice p50 "
            f"{statistics.median(v2v):.0f} ms, server-added p99 "
            f"{summary['server_added_ms']['p99']:.0f} ms, {len(errors)} errors"
        )


if __name__ == "__main__":
    main()
