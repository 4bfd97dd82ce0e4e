"""The handlers of the protocol's client events (OpenAI Realtime GA, and AURA's extensions).

Each one turns a validated client event (voice/realtime/client_events.py) into one call of the
engine session; what the client is told back comes out of the session's event stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from voice.engine.errors import InvalidRequestError
from voice.realtime import client_events as ce
from voice.realtime.client_events import ClientEvent
from voice.realtime.dispatcher import Connection, Dispatcher
from voice.realtime.quality_signals import record_feedback
from voice.realtime.server_events import item_json
from voice.realtime.session_config import apply_session_update, session_json

DISPATCHER = Dispatcher()


@DISPATCHER.handles("session.update")
async def session_update(connection: Connection, event: ClientEvent) -> None:
    connection.config = apply_session_update(connection.config, event.payload.get("session"))
    connection.live().update(connection.config)
    connection.notify(
        {
            "type": "session.updated",
            "session": session_json(connection.config, model=connection.model),
        }
    )


@DISPATCHER.handles("input_audio_buffer.append")
async def audio_append(connection: Connection, event: ClientEvent) -> None:
    connection.feed_audio(ce.decode_audio(event.payload))


@DISPATCHER.handles("input_audio_buffer.commit")
async def audio_commit(connection: Connection, event: ClientEvent) -> None:
    await connection.live().commit_audio()


@DISPATCHER.handles("input_audio_buffer.clear")
async def audio_clear(connection: Connection, event: ClientEvent) -> None:
    await connection.live().clear_audio()


@DISPATCHER.handles("output_audio_buffer.clear")
async def output_clear(connection: Connection, event: ClientEvent) -> None:
    raise InvalidRequestError(
        "output_audio_buffer.clear is for WebRTC; over WebSocket use response.cancel and "
        "conversation.item.truncate",
        code="unsupported_event",
    )


@DISPATCHER.handles("conversation.item.create")
async def item_create(connection: Connection, event: ClientEvent) -> None:
    session = connection.live()
    item = ce.item_to_create(event.payload)
    connection.guard.admit_item(item, conversation_chars=session.text_chars())
    await session.add_item(item)


@dataclass(frozen=True, slots=True)
class Truncation:
    item_id: str
    content_index: int
    audio_end_ms: int

    @classmethod
    def of(cls, payload: dict[str, Any]) -> Truncation:
        # Shapes are checked already against the SDK's model of the event.
        return cls(payload["item_id"], payload["content_index"], payload["audio_end_ms"])


@DISPATCHER.handles("conversation.item.truncate")
async def item_truncate(connection: Connection, event: ClientEvent) -> None:
    cut = Truncation.of(event.payload)
    await connection.live().truncate(cut.item_id, cut.content_index, cut.audio_end_ms)


@DISPATCHER.handles("conversation.item.delete")
async def item_delete(connection: Connection, event: ClientEvent) -> None:
    await connection.live().delete_item(event.payload["item_id"])


@DISPATCHER.handles("conversation.item.retrieve")
async def item_retrieve(connection: Connection, event: ClientEvent) -> None:
    item = connection.live().item(event.payload["item_id"])
    connection.notify({"type": "conversation.item.retrieved", "item": item_json(item)})


@DISPATCHER.handles("response.create")
async def response_create(connection: Connection, event: ClientEvent) -> None:
    await connection.guard.admit_response()
    options = ce.response_options(
        event.payload, default_modalities=connection.config.output_modalities
    )
    await connection.live().create_response(options)


@DISPATCHER.handles("response.cancel")
async def response_cancel(connection: Connection, event: ClientEvent) -> None:
    await connection.live().cancel_response()


@dataclass(frozen=True, slots=True)
class PlaybackPosition:
    item_id: str
    played_ms: float

    @classmethod
    def of(cls, payload: dict[str, Any]) -> PlaybackPosition:
        """An extension, so not checked by the SDK: checked here."""
        item_id, played_ms = payload.get("item_id"), payload.get("played_ms")
        if (
            not isinstance(item_id, str)
            or isinstance(played_ms, bool)
            or not isinstance(played_ms, int | float)
        ):
            raise InvalidRequestError(
                "aura.playback.position needs item_id and played_ms", code="invalid_event"
            )
        return cls(item_id, float(played_ms))


@DISPATCHER.handles("aura.playback.position")
async def playback_position(connection: Connection, event: ClientEvent) -> None:
    position = PlaybackPosition.of(event.payload)
    connection.live().playback_position(position.item_id, position.played_ms)
    connection.signals.playback_reported(event.payload)


@DISPATCHER.handles("aura.feedback")
async def feedback(connection: Connection, event: ClientEvent) -> None:
    """A rating of this session's own conversation, or of one of its answers."""
    recorded = await record_feedback(
        connection.signals,
        event.payload,
        session=connection.live(),
        schema_name=connection.schema_name,
        conversation_id=connection.conversation_id,
    )
    if connection.options.extensions:
        connection.notify(recorded)
