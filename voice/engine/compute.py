"""The bounded executor that CPU-bound model work (Whisper, Piper, llama.cpp, Silero) runs in.

One pool per process, sized to the cores, so inference never blocks the event loop and never
oversubscribes the CPU; each model additionally serialises its own calls where it is not
thread-safe.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def compute_threads() -> int:
    """Threads one model call may use (AURA_COMPUTE_THREADS, default: all cores)."""
    return int(os.environ.get("AURA_COMPUTE_THREADS", cpu_count()))


def executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        workers = int(os.environ.get("AURA_COMPUTE_WORKERS", max(2, cpu_count())))
        _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aura-compute")
    return _executor


async def run_cpu(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a CPU-bound call in the compute pool and await its result."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor(), functools.partial(fn, *args, **kwargs))
