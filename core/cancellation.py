"""Cancelling tasks for sure, on Python 3.11, where a cancellation can be lost.

`asyncio.wait_for` on 3.11 returns the result of an operation that completes just as its
caller is cancelled, and the cancellation is gone (CPython gh-86296, fixed in 3.12 by
rewriting `wait_for`). redis-py sends every command through it (its default socket timeout),
so a task cancelled while its Redis command is being written carries on as if nothing had
happened: a session's lease renewal loop, or Channels' channel-layer receive, then runs for
as long as the process, and whoever awaits it waits for ever.
"""

from __future__ import annotations

import asyncio
from typing import Any

# Long enough for a task to finish what a cancellation interrupts, short enough that a lost
# one costs little.
RETRY_S = 0.5


async def cancel_and_wait(*tasks: asyncio.Future[Any], retry_s: float = RETRY_S) -> None:
    """Cancel the tasks and wait until every one has ended, cancelling again any that
    carries on (its cancellation lost); their results and errors are dropped."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=retry_s)
    await asyncio.gather(*tasks, return_exceptions=True)
