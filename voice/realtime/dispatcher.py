"""Client events to their handlers: a registry that any module can extend.

A handler is `async def handler(connection, event: SomeEvent)`, registered for the event type
its model stands for with `@DISPATCHER.handles(SomeEvent)` (voice/realtime/handlers.py
registers the protocol's). It gets the event as parsed into that model (voice/realtime/
client_events.py), and the connection's narrow interface (`Connection`), never the transport
itself; it reports refusals by raising an `AuraError`, which becomes an `error` event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from voice.engine.config import AgentConfig
from voice.engine.errors import InvalidRequestError
from voice.engine.pipeline.session import VoiceSession
from voice.realtime.aura_events import event_type_of
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


EventT = TypeVar("EventT", bound=BaseModel)
Handler = Callable[[Connection, EventT], Awaitable[None]]


class Dispatcher:
    def __init__(self) -> None:
        self._handlers: dict[type[BaseModel], Handler[Any]] = {}

    def handles(self, model: type[EventT]) -> Callable[[Handler[EventT]], Handler[EventT]]:
        """Register the decorated function as the handler of the events parsed into `model`."""
        event_type = event_type_of(model)

        def register(handler: Handler[EventT]) -> Handler[EventT]:
            if event_type in self.event_types:
                raise ValueError(f"{event_type} already has a handler")
            self._handlers[model] = handler
            return handler

        return register

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(event_type_of(model) for model in self._handlers)

    async def dispatch(self, connection: Connection, event: BaseModel) -> None:
        handler = self._handlers.get(type(event))
        if handler is None:
            raise InvalidRequestError(
                f"{event_type_of(type(event))} is not handled by this server",
                code="unsupported_event",
            )
        await handler(connection, event)
