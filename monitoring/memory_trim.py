"""Gives the heap's free pages back to the system now and then (glibc's `malloc_trim`).

A web process's resident memory grows in its first busy seconds and stays there although
Python holds little of it: glibc's `free()` gives back only what lies at the top of a heap, so
the main heap (the event loop's) keeps the pages of the busiest moment. `malloc_trim(0)` returns
every whole free page of every arena (`madvise`): it cut bench/soak.py's growth from +36-40 MB
to +7-15 MB, where `MALLOC_ARENA_MAX=2` changed nothing (docs/benchmarks.md).

Only glibc has it: elsewhere (musl, macOS) nothing is started. Detected once, at import.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import platform
import time
import weakref
from collections.abc import Callable

from django.conf import settings

from core.cancellation import cancel_and_wait

logger = logging.getLogger(__name__)

Trim = Callable[[int], int]


def find_malloc_trim(libc_name: str | None = None) -> Trim | None:
    """glibc's `malloc_trim` (0: keep no padding), or None where the C library is another."""
    if (libc_name if libc_name is not None else platform.libc_ver()[0]) != "glibc":
        return None
    try:
        function = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # a static or unusual build: nothing to call
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    trim: Trim = function
    return trim


MALLOC_TRIM: Trim | None = find_malloc_trim()

# One trimmer per running loop (daphne has one); the task is owned here and stopped by
# `stop_memory_trimmer` (graceful shutdown).
_trimmers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = (
    weakref.WeakKeyDictionary()
)


def trim_now() -> bool:
    """Return the heap's free pages to the system; whether any were (False without glibc)."""
    if MALLOC_TRIM is None:
        return False
    started = time.perf_counter()
    released = bool(MALLOC_TRIM(0))
    elapsed_ms = (time.perf_counter() - started) * 1000
    logger.debug("malloc_trim: %.1f ms, released: %s", elapsed_ms, released)
    return released


def ensure_memory_trimmer() -> asyncio.Task[None] | None:
    """Start trimming every AURA_MALLOC_TRIM_SECONDS on the running loop, once per loop
    (idempotent); None where there is nothing to call or the interval is 0."""
    interval_s = float(settings.AURA_MALLOC_TRIM_SECONDS)
    if MALLOC_TRIM is None or interval_s <= 0:
        return None
    loop = asyncio.get_running_loop()
    task = _trimmers.get(loop)
    if task is None or task.done():
        task = loop.create_task(_trim_every(interval_s), name="aura-malloc-trim")
        _trimmers[loop] = task
    return task


async def stop_memory_trimmer() -> None:
    """Stop the running loop's trimmer, if any, and wait until it has ended."""
    task = _trimmers.pop(asyncio.get_running_loop(), None)
    if task is not None:
        await cancel_and_wait(task)


async def _trim_every(interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            # On the loop, not in a thread: 0.3-8 ms in the soak (a thread of its own would
            # be one more arena to trim).
            trim_now()
        except Exception:  # a trimmer that stops would let the process grow unnoticed
            logger.exception("malloc_trim failed")
