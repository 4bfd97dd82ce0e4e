"""Fault injection: the system resolver as it behaves when a DNS server never answers.

It replaces the one function through which voice.engine.net.addresses looks names up (its module
boundary with the operating system); every lookup then blocks its thread until the test ends,
as a real one can for minutes.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from voice.engine.net import addresses
from voice.engine.net.addresses import configure_resolution


class UnansweringDns:
    def __init__(self) -> None:
        self.released = threading.Event()
        self._entered = 0
        self._lock = threading.Lock()
        self._watchers: list[Callable[[], None]] = []

    def __call__(self, host: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self._entered += 1
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher()
        self.released.wait()
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    @property
    def blocked(self) -> int:
        """Lookups that have started (and are stuck)."""
        with self._lock:
            return self._entered

    async def wait_until_blocked(self, lookups: int) -> None:
        loop = asyncio.get_running_loop()
        reached = asyncio.Event()

        def watch() -> None:
            if self.blocked >= lookups:
                loop.call_soon_threadsafe(reached.set)

        with self._lock:
            self._watchers.append(watch)
        watch()
        async with asyncio.timeout(60):
            await reached.wait()


@contextmanager
def unanswering_dns(
    monkeypatch: pytest.MonkeyPatch, *, workers: int, timeout_s: float
) -> Iterator[UnansweringDns]:
    """DNS that never answers, looked up by a pool of `workers` threads with `timeout_s`."""
    dns = UnansweringDns()
    monkeypatch.setattr(addresses, "_system_getaddrinfo", dns)
    configure_resolution(workers=workers, timeout_s=timeout_s)
    try:
        yield dns
    finally:
        dns.released.set()
        configure_resolution()
