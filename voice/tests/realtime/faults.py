"""Helpers of the fault-injection suite: servers to kill, a client that notes what it heard."""

from __future__ import annotations

import asyncio
import json
import signal
from dataclasses import dataclass, field
from typing import Any

import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voice.tests.realtime.server import DaphneProcess, start_daphne, stop_daphne, wait_until_ready

# Faults are about durability, not models: no warm-up, text turns.
FAULT_ENV = {"AURA_WARM_UP_LOCAL_MODELS": "false"}
# What the fault tests measured, printed at the end of the run (voice/tests/realtime/conftest.py)
# so that docs/benchmarks.md can quote it.
FIGURES: list[str] = []


def figure(line: str) -> None:
    FIGURES.append(line)


def url(server: DaphneProcess, query: str = "aura=1") -> str:
    return f"{server.websocket_base_url}/realtime?{query}"


@dataclass
class Heard:
    """What a client was told: the turns it saw answered, the close it got."""

    answered: list[tuple[str, str]] = field(default_factory=list)  # (user item, answer item)
    close_code: int | None = None
    close_reason: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)


class Client:
    """One socket; `heard` keeps every turn whose `response.done` it received."""

    def __init__(self, socket: ClientConnection, heard: Heard | None = None) -> None:
        self.socket = socket
        self.heard = heard or Heard()
        self.created: dict[str, Any] = {}
        self._pending_user: str | None = None

    @classmethod
    async def open(
        cls, server: DaphneProcess, key: str, query: str = "aura=1", **kw: Any
    ) -> Client:
        socket = await connect(
            url(server, query), additional_headers={"Authorization": f"Bearer {key}"}, **kw
        )
        client = cls(socket)
        await client.until("session.created", timeout_s=30)
        client.created = await client.until("aura.session.created", timeout_s=30)
        return client

    async def next(self, timeout_s: float) -> dict[str, Any]:
        async with asyncio.timeout(timeout_s):
            raw = await self.socket.recv()
        event: dict[str, Any] = json.loads(raw)
        self.heard.events.append(event)
        if event["type"] == "response.done" and self._pending_user is not None:
            output = event["response"]["output"]
            if event["response"]["status"] == "completed" and output:
                self.heard.answered.append((self._pending_user, output[0]["id"]))
            self._pending_user = None
        return event

    async def until(self, kind: str, *, timeout_s: float = 20) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            event = await self.next(max(0.01, deadline - loop.time()))
            if event["type"] == kind:
                return event

    async def ask(self, item_id: str, text: str = "Hello?") -> None:
        """Send a user message and ask for a text answer (not waiting for it)."""
        await self.socket.send(
            json.dumps(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "id": item_id,
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": text}],
                    },
                }
            )
        )
        self._pending_user = item_id
        await self.socket.send(
            json.dumps({"type": "response.create", "response": {"output_modalities": ["text"]}})
        )

    async def turn(self, item_id: str, *, timeout_s: float = 30) -> dict[str, Any]:
        await self.ask(item_id)
        return await self.until("response.done", timeout_s=timeout_s)

    async def drain(self, *, timeout_s: float = 15) -> None:
        """Read until the server closes the socket (noting what arrives before)."""
        try:
            while True:
                await self.next(timeout_s)
        except ConnectionClosed as closed:
            if closed.rcvd is not None:
                self.heard.close_code = closed.rcvd.code
                self.heard.close_reason = closed.rcvd.reason
        except TimeoutError:
            pass

    async def close(self) -> None:
        await self.socket.close()


class ServerPool:
    """Daphne processes to kill and replace; replacements start in the background."""

    def __init__(self, database_name: str, size: int, env: dict[str, str]) -> None:
        self.database_name = database_name
        self.env = {**FAULT_ENV, **env}
        self.servers = [self._start() for _ in range(size)]
        for server in self.servers:
            wait_until_ready(server)
        self.kills = 0

    def _start(self) -> DaphneProcess:
        return start_daphne(database_name=self.database_name, extra_env=self.env)

    async def ready(self, index: int) -> DaphneProcess:
        server = self.servers[index % len(self.servers)]
        await asyncio.to_thread(wait_until_ready, server)
        return server

    def kill(self, server: DaphneProcess) -> None:
        """SIGKILL, and a replacement starting in its place."""
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        self.kills += 1
        self.servers[self.servers.index(server)] = self._start()

    def close(self) -> None:
        for server in self.servers:
            stop_daphne(server)


def rss_mb(server: DaphneProcess) -> float:
    return float(psutil.Process(server.process.pid).memory_info().rss) / 2**20
