"""Control messages to live realtime sessions, across server processes (the channel layer).

Each open session's consumer joins the group `session.<session_id>`, so a message sent to that
group reaches the one process holding the socket, wherever the request to send it was handled
(admin, REST API, a Celery task). Never audio: the layer's capacity is 100 messages a channel.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

SESSION_END = "session.end"


def session_group(session_id: str) -> str:
    """The channel-layer group of one realtime session (ids are `sess_<hex>`: valid names)."""
    return f"session.{session_id}"


async def realtime_session_end_async(*, session_id: str, reason: str = "") -> None:
    """Ask the process holding `session_id` to end it: the client gets an `error` event with
    code `session_ended` and close code 4009; the conversation ends and cannot be resumed.

    Fire and forget: a session that is not open (or already gone) ignores it.
    """
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured (CHANNEL_LAYERS)")
    await layer.group_send(session_group(session_id), {"type": SESSION_END, "reason": reason})


def realtime_session_end(*, session_id: str, reason: str = "") -> None:
    """`realtime_session_end_async` for synchronous callers (admin actions, services, tasks)."""
    async_to_sync(realtime_session_end_async)(session_id=session_id, reason=reason)
