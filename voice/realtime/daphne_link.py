"""What the daphne connection under a WebSocket offers beyond ASGI.

- **Unsent output.** ASGI has no flow control: daphne's `websocket.send` never waits, so what
  a client that stops reading is sent piles up in the server's memory (Twisted's write buffer,
  once the kernel's send buffer is full). The transport reads how much is still unsent and
  closes a client that lets it grow.
- **Close codes and reasons.** daphne drops the reason of `websocket.close`, and autobahn
  refuses the standard codes 1008, 1012 and 1013 from a server; AURA closes with those
  (policy violation, service restart) and a reason, so it writes the close frame itself.

The connection is found once: daphne runs on Twisted's asyncio reactor, where it is the
reactor's reader whose peer is the scope's client address. Outside daphne (the Channels test
communicator) nothing is found: no output bound, and closes go through ASGI. uvicorn has a link
of its own (server_link.py, which chooses).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)


def _reactor_readers() -> list[Any]:
    try:
        from twisted.internet import reactor
    except ImportError:  # pragma: no cover - daphne always brings Twisted
        return []
    get_readers = getattr(reactor, "getReaders", None)
    return list(get_readers()) if get_readers is not None else []


def _peer(transport: Any) -> tuple[str, int] | None:
    try:
        peer = transport.getPeer()
        return str(peer.host), int(peer.port)
    except Exception:  # listening ports and pipes have no peer
        return None


class DaphneLink:
    """The Twisted transport (and its WebSocket protocol) of one connection."""

    def __init__(self, scope: Mapping[str, Any]) -> None:
        client = scope.get("client")
        self._peer = (str(client[0]), int(client[1])) if client else None
        self._transport: weakref.ref[Any] | None = None
        self._looked = False

    def _find(self) -> Any:
        if self._transport is not None:
            return self._transport()
        if self._looked or self._peer is None:
            return None
        self._looked = True
        for reader in _reactor_readers():
            if hasattr(reader, "dataBuffer") and _peer(reader) == self._peer:
                self._transport = weakref.ref(reader)
                return reader
        return None

    def unsent_bytes(self) -> int:
        """Bytes written for this client and not yet handed to the kernel (0 if unknown)."""
        transport = self._find()
        if transport is None:
            return 0
        # Twisted's transport is untyped here (a weak reference to Any): the sum is an int.
        return int(len(transport.dataBuffer) - transport.offset + transport._tempDataLen)

    def close(self, code: int, reason: str) -> bool:
        """Send a close frame with any code and a reason; False if this is not daphne."""
        transport = self._find()
        protocol = getattr(transport, "protocol", None)
        if protocol is None or not hasattr(protocol, "sendCloseFrame"):
            return False
        try:
            protocol.sendCloseFrame(code=code, reasonUtf8=reason.encode()[:123], isReply=False)
        except Exception:
            logger.exception("could not send the close frame (%s)", code)
            return False
        return True

    def abort(self) -> None:
        """Drop the connection and what it holds (a client that does not read would never
        take the close frame queued behind it)."""
        transport = self._find()
        if transport is not None:
            transport.abortConnection()
