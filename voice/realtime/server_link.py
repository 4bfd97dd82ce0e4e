"""What the ASGI server under a WebSocket offers beyond ASGI, daphne's or uvicorn's.

The transport needs three things ASGI does not give (voice/realtime/wire.py's `Socket`): how
much output a client has left unread, a close frame with AURA's codes and a reason written
without waiting for a client that may not read, and dropping the connection outright.

- **daphne** (`daphne_link.py`): `websocket.send` never waits, the reason of a close is dropped
  and autobahn refuses 1008/1012/1013 from a server; the link finds the Twisted transport.
- **uvicorn** (`UvicornLink`): the `send` callable is a bound method of uvicorn's WebSocket
  protocol object, an asyncio protocol whose `transport` is the connection (uvloop's or
  asyncio's). Its `websocket.send` awaits the transport's drain: back-pressure at a 64 KiB
  high-water mark, so a client that stops reading would stall the session's event pump instead
  of meeting the documented bound (`AURA_REALTIME_MAX_UNSENT_BYTES`, close 1008). The link
  raises the transport's high-water mark above that bound, so that it decides under both
  servers, and reads the unsent bytes off the transport. uvicorn's `websocket.close` carries
  the code and the reason (ASGI 2.3), but its `websockets` implementation then awaits the
  closing handshake (up to 10 s, for ever in effect for a client that does not read), so the
  link writes the close frame at once, as websockets' `fail_connection` does; its other
  implementations (wsproto, websockets-sansio) write the close frame without waiting, through
  ASGI.

Anything else (the Channels test communicator) gets the daphne link, which finds nothing: no
output bound, and closes go through ASGI.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from voice.realtime.daphne_link import DaphneLink

logger = logging.getLogger(__name__)

# A close frame's payload is at most 125 bytes: the code's two and the reason's.
MAX_CLOSE_REASON_BYTES = 123


class ServerLink(Protocol):
    def unsent_bytes(self) -> int:
        """Bytes written for this client and not yet handed to the kernel (0 if unknown)."""
        ...

    def close(self, code: int, reason: str) -> bool:
        """Write a close frame with `code` and `reason` without waiting; False if the caller
        must close through ASGI instead."""
        ...

    def abort(self) -> None:
        """Drop the connection and what it holds."""
        ...


def close_reason_bytes(reason: str) -> str:
    """`reason`, cut on a character boundary to fit a close frame."""
    return reason.encode()[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")


class UvicornLink:
    """uvicorn's WebSocket protocol object (the `send` callable's) and its asyncio transport."""

    def __init__(self, protocol: Any, transport: Any, *, max_unsent_bytes: int) -> None:
        self._protocol = protocol
        self._transport = transport
        # Twice the bound: the pump checks the backlog after each event, and no event is near
        # the bound in size, so the check comes before a send would wait for the client.
        transport.set_write_buffer_limits(high=2 * max_unsent_bytes)

    def unsent_bytes(self) -> int:
        return int(self._transport.get_write_buffer_size())

    def close(self, code: int, reason: str) -> bool:
        # websockets' legacy protocol (uvicorn's `--ws websockets`): the close frame behind the
        # output, the state CLOSING, the TCP connection closed once it is written (or after
        # websockets' close timeout); no wait for the client's answer.
        fail_connection: Callable[[int, str], None] | None = getattr(
            self._protocol, "fail_connection", None
        )
        if fail_connection is None:
            return False
        try:
            fail_connection(code, close_reason_bytes(reason))
        except Exception:
            logger.exception("could not send the close frame (%s)", code)
            return False
        return True

    def abort(self) -> None:
        self._transport.abort()


def server_link(
    scope: Mapping[str, Any], send: Callable[..., Any], *, max_unsent_bytes: int
) -> ServerLink:
    """The link of the server whose `send` callable this is (the one the ASGI application was
    called with; Channels' routers and middleware pass it on unwrapped)."""
    protocol = getattr(send, "__self__", None)
    transport = getattr(protocol, "transport", None)
    if all(
        hasattr(transport, name)
        for name in ("get_write_buffer_size", "set_write_buffer_limits", "abort")
    ):
        return UvicornLink(protocol, transport, max_unsent_bytes=max_unsent_bytes)
    return DaphneLink(scope)
