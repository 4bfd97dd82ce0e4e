"""Run `bench/openai_simulator.py` as a real subprocess for tests and benchmarks.

Usage in a test module::

    @pytest.fixture(scope="module")
    def simulator() -> Iterator[SimulatorProcess]:
        with run_simulator() as sim:
            yield sim

    async def test_something(simulator: SimulatorProcess) -> None:
        await simulator.reset()
        client = openai.AsyncOpenAI(base_url=simulator.base_url, api_key="test")
        ...
        log = await simulator.requests()

The model name steers the simulator per request ("fail-500", "slow-first-token:300", ...; see
the simulator's module docstring), so one process serves many tests deterministically. Call
`reset()` at the start of a test that counts requests or uses "fail-first:<n>".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from core.processes import free_port, wait_until_ready

REPO_ROOT = Path(__file__).resolve().parents[3]
STARTUP_TIMEOUT_S = 15.0


@dataclass
class SimulatorProcess:
    """A running simulator: where it listens and how to ask it what it saw."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The `base_url` to give the openai SDK."""
        return f"{self.root_url}/v1"

    async def requests(self) -> list[dict[str, Any]]:
        """Every request the simulator logged since the last reset, oldest first."""
        return list((await self._admin("GET", "/_sim/requests"))["requests"])

    async def counts(self) -> dict[str, int]:
        """Requests per model string since the last reset."""
        return dict((await self._admin("GET", "/_sim/requests"))["counts"])

    async def reset(self) -> None:
        await self._admin("POST", "/_sim/reset")

    async def configure(self, **settings: object) -> dict[str, Any]:
        """Change reply, transcript, first_token_ms or inter_token_ms at run time."""
        return await self._admin("POST", "/_sim/config", settings)

    async def wait_for_request(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        *,
        timeout_s: float = 2.0,
    ) -> dict[str, Any]:
        """Poll the log until a request matches (e.g. its outcome became "client_closed")."""
        async with asyncio.timeout(timeout_s):
            while True:
                for record in await self.requests():
                    if predicate(record):
                        return record
                await asyncio.sleep(0.01)

    async def _admin(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.root_url + path, json=body) as response,
        ):
            response.raise_for_status()
            return dict(await response.json())


@contextlib.contextmanager
def run_simulator(
    *,
    first_token_ms: float = 20.0,
    inter_token_ms: float = 2.0,
    reply: str | None = None,
    transcript: str | None = None,
) -> Iterator[SimulatorProcess]:
    """Start the simulator on a free 127.0.0.1 port, wait until it answers, kill it after."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "bench.openai_simulator",
        "--port",
        str(port),
        "--first-token-ms",
        str(first_token_ms),
        "--inter-token-ms",
        str(inter_token_ms),
    ]
    if reply is not None:
        command += ["--reply", reply]
    if transcript is not None:
        command += ["--transcript", transcript]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    simulator = SimulatorProcess(process=process, port=port)
    try:
        _wait_until_healthy(simulator)
        yield simulator
    finally:
        process.kill()
        process.wait(timeout=5)


def _wait_until_healthy(simulator: SimulatorProcess) -> None:
    def healthy() -> bool:
        try:
            with urllib.request.urlopen(simulator.root_url + "/_sim/health", timeout=1) as reply:
                return bool(json.load(reply).get("ok"))
        except (urllib.error.URLError, ConnectionError):
            return False

    wait_until_ready(simulator.process, healthy, name="simulator", timeout_s=STARTUP_TIMEOUT_S)
