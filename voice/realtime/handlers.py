"""The handlers of the protocol's client events (OpenAI Realtime GA, and AURA's extensions).

Each one turns a client event, parsed into its model (voice/realtime/client_events.py), into one
call of the engine session; what the client is told back comes out of the session's event stream.
"""

from __future__ import annotations

from openai.types.realtime import (
    ConversationItemCreateEvent,
    ConversationItemDeleteEvent,
    ConversationItemRetrieveEvent,
    ConversationItemTruncateEvent,
    InputAudioBufferAppendEvent,
    InputAudioBufferClearEvent,
    InputAudioBufferCommitEvent,
    OutputAudioBufferClearEvent,
    ResponseCancelEvent,
    ResponseCreateEvent,
)

from voice.engine.errors import InvalidRequestError
from voice.realtime import client_events as ce
from voice.realtime.aura_events import FeedbackEvent, PlaybackPosition, SessionUpdate
from voice.realtime.dispatcher import Connection, Dispatcher
from voice.realtime.quality_signals import record_feedback
from voice.realtime.server_events import item_json
from voice.realtime.session_config import apply_session_update, session_json

DISPATCHER = Dispatcher()


@DISPATCHER.handles(SessionUpdate)
async def session_update(connection: Connection, event: SessionUpdate) -> None:
    connection.config = apply_session_update(connection.config, event.session)
    connection.live().update(connection.config)
    connection.notify(
        {
            "type": "session.updated",
            "session": session_json(connection.config, model=connection.model),
        }
    )


@DISPATCHER.handles(InputAudioBufferAppendEvent)
async def audio_append(connection: Connection, event: InputAudioBufferAppendEvent) -> None:
    connection.feed_audio(ce.decode_audio(event))


@DISPATCHER.handles(InputAudioBufferCommitEvent)
async def audio_commit(connection: Connection, event: InputAudioBufferCommitEvent) -> None:
    await connection.live().commit_audio()


@DISPATCHER.handles(InputAudioBufferClearEvent)
async def audio_clear(connection: Connection, event: InputAudioBufferClearEvent) -> None:
    await connection.live().clear_audio()


@DISPATCHER.handles(OutputAudioBufferClearEvent)
async def output_clear(connection: Connection, event: OutputAudioBufferClearEvent) -> None:
    raise InvalidRequestError(
        "output_audio_buffer.clear is for WebRTC; over WebSocket use response.cancel and "
        "conversation.item.truncate",
        code="unsupported_event",
    )


@DISPATCHER.handles(ConversationItemCreateEvent)
async def item_create(connection: Connection, event: ConversationItemCreateEvent) -> None:
    session = connection.live()
    item = ce.item_to_create(event.item)
    connection.guard.admit_item(item, conversation_chars=session.text_chars())
    await session.add_item(item)


@DISPATCHER.handles(ConversationItemTruncateEvent)
async def item_truncate(connection: Connection, event: ConversationItemTruncateEvent) -> None:
    await connection.live().truncate(event.item_id, event.content_index, event.audio_end_ms)


@DISPATCHER.handles(ConversationItemDeleteEvent)
async def item_delete(connection: Connection, event: ConversationItemDeleteEvent) -> None:
    await connection.live().delete_item(event.item_id)


@DISPATCHER.handles(ConversationItemRetrieveEvent)
async def item_retrieve(connection: Connection, event: ConversationItemRetrieveEvent) -> None:
    item = connection.live().item(event.item_id)
    connection.notify({"type": "conversation.item.retrieved", "item": item_json(item)})


@DISPATCHER.handles(ResponseCreateEvent)
async def response_create(connection: Connection, event: ResponseCreateEvent) -> None:
    await connection.guard.admit_response()
    options = ce.response_options(
        event.response, default_modalities=connection.config.output_modalities
    )
    await connection.live().create_response(options)


@DISPATCHER.handles(ResponseCancelEvent)
async def response_cancel(connection: Connection, event: ResponseCancelEvent) -> None:
    await connection.live().cancel_response()


@DISPATCHER.handles(PlaybackPosition)
async def playback_position(connection: Connection, event: PlaybackPosition) -> None:
    connection.live().playback_position(event.item_id, event.played_ms)
    connection.signals.playback_reported(event)


@DISPATCHER.handles(FeedbackEvent)
async def feedback(connection: Connection, event: FeedbackEvent) -> None:
    """A rating of this session's own conversation, or of one of its answers."""
    recorded = await record_feedback(
        connection.signals,
        event,
        session=connection.live(),
        schema_name=connection.schema_name,
        conversation_id=connection.conversation_id,
    )
    if connection.options.extensions:
        connection.notify(recorded)
