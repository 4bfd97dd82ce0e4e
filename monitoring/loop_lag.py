"""Measures event-loop lag: how late a timer fires because other work held the loop.

In a voice server every coroutine shares one loop per process, so lag is added to every
audio frame of every session; it is the first number to watch under load.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref

from monitoring.metrics import EVENT_LOOP_LAG

logger = logging.getLogger(__name__)

INTERVAL_S = 0.1
# A stall this long is worth a log line with the session context that caused it.
WARN_AFTER_S = 0.25

# One monitor per running loop; the task is owned here for the loop's lifetime.
_monitors: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = (
    weakref.WeakKeyDictionary()
)


def ensure_loop_lag_monitor() -> None:
    """Start measuring the running loop's lag, once per loop (idempotent)."""
    loop = asyncio.get_running_loop()
    task = _monitors.get(loop)
    if task is None or task.done():
        _monitors[loop] = loop.create_task(_measure(), name="aura-loop-lag")


async def _measure() -> None:
    while True:
        started = time.perf_counter()
        await asyncio.sleep(INTERVAL_S)
        lag_s = max(0.0, time.perf_counter() - started - INTERVAL_S)
        EVENT_LOOP_LAG.observe(lag_s)
        if lag_s > WARN_AFTER_S:
            logger.warning("event loop stalled for %.0f ms", lag_s * 1000)
