"""The consumer's message loop: Channels' `await_many_dispatch`, with cancellations that hold.

Channels waits for the next message from the client and from the channel layer at once, and
when the consumer stops it cancels both waits and awaits them. A channel-layer receive whose
cancellation was lost (core/cancellation.py: redis-py on Python 3.11) went on polling Redis:
the consumer never ended, and after daphne's --application-close-timeout the receive outlived
it for good, with a Redis connection of the channel layer's pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from core.cancellation import cancel_and_wait

Source = Callable[[], Awaitable[dict[str, Any]]]


async def dispatch_messages(
    sources: Sequence[Source], dispatch: Callable[[dict[str, Any]], Awaitable[None]]
) -> None:
    """Dispatch each message of any source, in arrival order per source, until `dispatch`
    raises (StopConsumer ends a consumer); the pending waits are ended for sure."""
    waits = [asyncio.ensure_future(source()) for source in sources]
    try:
        while True:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for index, wait in enumerate(waits):
                if wait.done():
                    message = wait.result()
                    await dispatch(message)
                    waits[index] = asyncio.ensure_future(sources[index]())
    finally:
        await cancel_and_wait(*waits)


def forget_channel(layer: Any, channel_name: str) -> None:
    """Drop what the channel layer still buffers for a consumer that has ended.

    channels-redis keeps a queue per receiving channel and drops it when a receive ends,
    except a receive cancelled while it held the layer's read of Redis for the whole process:
    its queue stayed for good (one in ten sessions in the soak, bench/soak.py).
    """
    buffers = getattr(layer, "receive_buffer", None)
    if isinstance(buffers, dict):
        buffers.pop(channel_name, None)
