"""The contract of a realtime connection: its URL options, close codes and socket port."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from voice.engine.pipeline.session import VoiceSession

# Close codes (documented in docs/api/websocket-api.md).
CLOSE_NORMAL = 1000
CLOSE_NOT_READING = 1008
CLOSE_SERVER_ERROR = 1011
CLOSE_SERVICE_RESTART = 1012
CLOSE_UNAUTHORIZED = 4001
CLOSE_FORBIDDEN = 4003
CLOSE_IDLE = 4008
CLOSE_ENDED_BY_OPERATOR = 4009
CLOSE_MAX_DURATION = 4010
CLOSE_LIMIT = 4029
CLOSE_BAD_REQUEST = 4400
CLOSE_BUDGET = 4402
CLOSE_RESUMED_ELSEWHERE = 4409
# A session refused at open closes with the code of its error's type.
CLOSE_CODES = {
    "authentication_error": CLOSE_UNAUTHORIZED,
    "permission_error": CLOSE_FORBIDDEN,
    "rate_limit_error": CLOSE_LIMIT,
    "insufficient_quota": CLOSE_BUDGET,
    "invalid_request_error": CLOSE_BAD_REQUEST,
}


class Socket(Protocol):
    """What the transport needs of its WebSocket (the consumer, or a test's fake)."""

    async def send_json(self, event: dict[str, Any]) -> None: ...
    async def send_bytes(self, data: bytes) -> None: ...
    async def close(self, code: int, reason: str | None = None) -> None: ...

    def unsent_bytes(self) -> int:
        """Output written for the client and not yet taken by it (0 when unknown)."""
        ...

    def abort(self) -> None:
        """Drop the connection without a close handshake."""
        ...


SessionFactory = Callable[..., VoiceSession]


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """What the client asked for in the URL: `?agent=&user=&resume=&aura=1&binary=1&aec=1`."""

    agent: str | None = None
    # As asked; believed only from a secret key (voice.realtime.auth.vouched_end_user).
    end_user_id: str = ""
    resume: str | None = None
    extensions: bool = False
    binary_audio: bool = False
    # `aec=1`: the client's capture cancels echo (voice.engine.audio.echo believes it).
    client_cancels_echo: bool = False
    model: str = "aura-local"


def close_reason(payload: Any) -> str:
    """The close frame's reason: the code of the error event that precedes it."""
    error = payload.get("error") if isinstance(payload, dict) else None
    return str(error.get("code", "")) if isinstance(error, dict) else ""
