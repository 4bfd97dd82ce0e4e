"""Graceful shutdown of a web process: SIGTERM drains the live sessions, then stops the server.

daphne stops its reactor on SIGTERM and cancels every application at once, which would cut the
sessions' `close()` (snapshot, queued writes) short; uvicorn would close every socket with
1012 but no reason, and no snapshot saved first. So the first session a process opens takes
SIGTERM over: the process stops accepting sessions (new ones are refused with 1012), tells
every live client to reconnect elsewhere (close 1012, "service restart"; they resume on
another process with their resume token), drains each session's writes, and only then hands
the signal to the server's own handler (daphne's, or uvicorn's, which then waits at most
--timeout-graceful-shutdown for what is left and re-raises SIGTERM: the process ends by the
signal, exit status 143, not 0), within `AURA_SHUTDOWN_GRACE_SECONDS` whatever happens.
Both servers install their handler with `signal.signal` before serving, so it is the one
taken over."""

from __future__ import annotations

import asyncio
import logging
import signal
import weakref
from collections import Counter
from types import FrameType
from typing import Any, Protocol

from django.conf import settings

from monitoring.memory_trim import stop_memory_trimmer


class RealtimeTransport(Protocol):
    """What shutting down needs of a live connection (voice/realtime/transport.py's)."""

    async def restart_elsewhere(self) -> None: ...


logger = logging.getLogger(__name__)

_live: weakref.WeakSet[RealtimeTransport] = weakref.WeakSet()
_state: dict[str, Any] = {"installed": False, "draining": False, "census": None}


def register(transport: RealtimeTransport) -> None:
    """A session opened in this process (the first one installs the SIGTERM handler)."""
    _live.add(transport)
    if not _state["installed"]:
        _install(asyncio.get_running_loop())
    period_s = float(settings.AURA_REALTIME_CENSUS_LOG_SECONDS)
    if period_s > 0 and _state["census"] is None:
        _state["census"] = asyncio.get_running_loop().create_task(_census(period_s))


def unregister(transport: RealtimeTransport) -> None:
    _live.discard(transport)


def draining() -> bool:
    """Whether this process is shutting down (it accepts no new session)."""
    return bool(_state["draining"])


def live_sessions() -> int:
    return len(_live)


async def _census(period_s: float) -> None:
    """A log line of what the process holds, for leak hunting (bench/soak.py reads it)."""
    while True:
        await asyncio.sleep(period_s)
        try:
            tasks = asyncio.all_tasks()
            names = Counter(_coroutine_name(task) for task in tasks)
            top = ", ".join(f"{name} {count}" for name, count in names.most_common(5))
            logger.info(
                "census: %d asyncio tasks, %d live sessions (%s)", len(tasks), len(_live), top
            )
        except Exception:  # a census that stops would leave its last, stale, line standing
            logger.exception("census failed")


def _coroutine_name(task: asyncio.Task[Any]) -> str:
    coroutine = task.get_coro()
    return str(getattr(coroutine, "__qualname__", type(coroutine).__name__))


def _install(loop: asyncio.AbstractEventLoop) -> None:
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if _state["draining"]:
            return
        _state["draining"] = True
        loop.call_soon_threadsafe(lambda: loop.create_task(_drain_then(previous, signum)))

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread (a test's event loop): nothing to take over
        return
    _state["installed"] = True


async def drain(grace_s: float) -> int:
    """Send every live session elsewhere and wait (at most `grace_s`) for their writes;
    returns how many were still closing when the grace period ran out."""
    transports = list(_live)
    logger.info("shutting down: %d live sessions to move", len(transports))
    if not transports:
        return 0
    tasks = [asyncio.create_task(t.restart_elsewhere()) for t in transports]
    _done, pending = await asyncio.wait(tasks, timeout=grace_s)
    if pending:
        logger.warning("%d sessions still closing after %.0f s", len(pending), grace_s)
    return len(pending)


async def _drain_then(previous: Any, signum: int) -> None:
    try:
        await drain(float(settings.AURA_SHUTDOWN_GRACE_SECONDS))
        await stop_memory_trimmer()
    except Exception:
        logger.exception("draining the sessions failed")
    finally:
        if callable(previous):
            previous(signum, None)
        else:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)
