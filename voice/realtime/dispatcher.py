"""Client events to their handlers: a registry that any module can extend.

A handler is `async def handler(connection, event)`, registered for one or more event types
with `@DISPATCHER.handles("type", ...)` (voice/realtime/handlers.py registers the protocol's).
It gets the connection's narrow interface (`Connection`), never the transport itself, and
reports refusals by raising an `AuraError`, which becomes an `error` event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from voice.engine.config import AgentConfig
from voice.engine.errors import InvalidRequestError
from voice.engine.pipeline.session import VoiceSession
from voice.realtime.client_events import ClientEvent
from voice.realtime.guard import SessionGuard
from voice.realtime.quality_signals import SessionSignals
from voice.realtime.wire import ConnectOptions


class Connection(Protocol):
    """What a handler may use of the connection it serves."""

    config: AgentConfig
    guard: SessionGuard
    signals: SessionSignals
    schema_name: str
    options: ConnectOptions

    @property
    def conversation_id(self) -> str:
        """The conversation the session records into; raises `session_closed` when none."""
        ...

    @property
    def model(self) -> str: ...

    def live(self) -> VoiceSession:
        """The engine session; raises `session_closed` when there is none."""
        ...

    def notify(self, payload: dict[str, Any]) -> None:
        """Send a server event, in order with the session's own."""
        ...

    def feed_audio(self, data: bytes) -> None:
        """Input audio, within the audio rate."""
        ...


Handler = Callable[[Connection, ClientEvent], Awaitable[None]]


class Dispatcher:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def handles(self, *event_types: str) -> Callable[[Handler], Handler]:
        """Register the decorated function as the handler of these event types."""

        def register(handler: Handler) -> Handler:
            for event_type in event_types:
                if event_type in self._handlers:
                    raise ValueError(f"{event_type} already has a handler")
                self._handlers[event_type] = handler
            return handler

        return register

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self._handlers)

    async def dispatch(self, connection: Connection, event: ClientEvent) -> None:
        handler = self._handlers.get(event.type)
        if handler is None:
            raise InvalidRequestError(
                f"{event.type} is not handled by this server", code="unsupported_event"
            )
        await handler(connection, event)
