"""Control messages to live realtime sessions, across server processes (the channel layer).

Each open session's consumer joins three groups: `session.<session_id>`, its API key's
`realtime-key.<key id>` (for a client secret, the key that minted it) and its organization's
`realtime-org.<organization id>`. A message sent to a group reaches every process holding one
of its sockets, wherever the request to send it was handled (admin, REST API, a Celery task).
Never audio: the layer's capacity is 100 messages a channel.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

SESSION_END = "session.end"
SESSION_TAKEN_OVER = "session.taken_over"

# Close codes of sessions ended from outside (documented in docs/api/websocket-api.md).
CLOSE_ENDED_BY_OPERATOR = 4009
CLOSE_CREDENTIALS_WITHDRAWN = 4001


def session_group(session_id: str) -> str:
    """The channel-layer group of one realtime session (ids are `sess_<hex>`: valid names)."""
    return f"session.{session_id}"


def key_group(key_id: int) -> str:
    """The group of every live session opened with one API key."""
    return f"realtime-key.{key_id}"


def organization_group(organization_id: int) -> str:
    """The group of every live session of one organization."""
    return f"realtime-org.{organization_id}"


async def _send(group: str, message: dict[str, object]) -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured (CHANNEL_LAYERS)")
    await layer.group_send(group, message)


def _end_message(*, reason: str, code: str, close_code: int) -> dict[str, object]:
    return {"type": SESSION_END, "reason": reason, "code": code, "close_code": close_code}


async def realtime_session_end_async(*, session_id: str, reason: str = "") -> None:
    """Ask the process holding `session_id` to end it: the client gets an `error` event with
    code `session_ended` and close code 4009; the conversation ends and cannot be resumed.

    Fire and forget: a session that is not open (or already gone) ignores it.
    """
    message = _end_message(reason=reason, code="session_ended", close_code=CLOSE_ENDED_BY_OPERATOR)
    await _send(session_group(session_id), message)


def realtime_session_end(*, session_id: str, reason: str = "") -> None:
    """`realtime_session_end_async` for synchronous callers (admin actions, services, tasks)."""
    async_to_sync(realtime_session_end_async)(session_id=session_id, reason=reason)


async def realtime_sessions_end_for_key_async(*, key_id: int, reason: str) -> None:
    """End every live session opened with a key (or a client secret it minted): the key was
    revoked or expired. Error `api_key_revoked`, close 4001; no resume."""
    message = _end_message(
        reason=reason, code="api_key_revoked", close_code=CLOSE_CREDENTIALS_WITHDRAWN
    )
    await _send(key_group(key_id), message)


async def realtime_sessions_end_for_organization_async(
    *, organization_id: int, reason: str
) -> None:
    """End every live session of a suspended organization: error `organization_suspended`,
    close 4001; no resume."""
    message = _end_message(
        reason=reason, code="organization_suspended", close_code=CLOSE_CREDENTIALS_WITHDRAWN
    )
    await _send(organization_group(organization_id), message)


def realtime_sessions_end_for_key(*, key_id: int, reason: str) -> None:
    """For services, after their transaction commits. Never raises: a key is revoked even
    when the channel layer is down (its sessions then last until their maximum length)."""
    try:
        async_to_sync(realtime_sessions_end_for_key_async)(key_id=key_id, reason=reason)
    except Exception:
        logger.exception("could not end the live sessions of key %s", key_id)


def realtime_sessions_end_for_organization(*, organization_id: int, reason: str) -> None:
    """For services, after their transaction commits; never raises (as above)."""
    try:
        async_to_sync(realtime_sessions_end_for_organization_async)(
            organization_id=organization_id, reason=reason
        )
    except Exception:
        logger.exception("could not end the live sessions of organization %s", organization_id)


async def realtime_session_taken_over_async(*, session_id: str, socket_id: str) -> None:
    """Tell the socket that held `session_id` that it was resumed on socket `socket_id`.

    Never raises: if the message is lost, that socket learns it at its next lease renewal.
    """
    try:
        await _send(session_group(session_id), {"type": SESSION_TAKEN_OVER, "socket_id": socket_id})
    except Exception:
        logger.exception("could not tell the previous socket of %s it was resumed", session_id)
