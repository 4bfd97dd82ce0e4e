"""The pump of one transport: the session's events to the socket, the only writer to it.

Each engine event becomes its server events (voice/realtime/server_events.py), after what must
be durable first is (write-ahead: a turn is stored before the client hears it is done, and so
is a cut); a client that lets output pile up unread is dropped; a notice with a close code,
or the conversation's end, closes the socket.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, Protocol

from core.cancellation import cancel_and_wait
from monitoring.metrics import PrometheusMetricsSink
from voice.engine import events as ev
from voice.engine.config import AgentConfig
from voice.engine.errors import AuraError
from voice.engine.observability.event_metrics import SessionEventMetrics
from voice.engine.pipeline.session import VoiceSession
from voice.realtime.guard import SessionGuard
from voice.realtime.quality_signals import CloseRecordingSocket, SessionSignals
from voice.realtime.recorder import SessionRecorder
from voice.realtime.server_events import server_events
from voice.realtime.wire import (
    CLOSE_NORMAL,
    CLOSE_NOT_READING,
    CLOSE_SERVER_ERROR,
    ConnectOptions,
    close_reason,
)

logger = logging.getLogger(__name__)

# Audio frames already waiting when the socket is free go out as one delta of up to this long.
MERGE_AUDIO_UP_TO_MS = 200


class PumpHost(Protocol):
    """What the pump needs of its transport."""

    socket: CloseRecordingSocket
    signals: SessionSignals
    recorder: SessionRecorder | None
    config: AgentConfig
    options: ConnectOptions
    guard: SessionGuard
    session_id: str

    def conversation_ended(self) -> None: ...


class EventPump:
    def __init__(self, host: PumpHost) -> None:
        self.host = host
        # Event ids: unique per connection, and cheaper than a uuid per audio frame.
        self._id_stem = uuid.uuid4().hex[:8] + "_"
        self._sent = 0
        self._task: asyncio.Task[None] | None = None

    def start(self, session: VoiceSession) -> None:
        self._task = asyncio.create_task(self._run(session), name="realtime-pump")
        self._task.add_done_callback(self._ended)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)

    async def _send(self, event: dict[str, Any]) -> None:
        self._sent += 1
        await self.host.socket.send_json(
            {"event_id": f"event_{self._id_stem}{self._sent}", **event}
        )

    async def _run(self, session: VoiceSession) -> None:
        host, socket = self.host, self.host.socket
        counts = SessionEventMetrics(PrometheusMetricsSink())
        async for event in session.events(merge_audio_up_to_ms=MERGE_AUDIO_UP_TO_MS):
            counts.observe(event)
            host.signals.observe(event)
            if isinstance(event, ev.ResponseDone) and host.recorder is not None:
                # Write-ahead: the client hears a turn is done only once it is durable.
                await host.recorder.turn_done(session, event.response_id, host.config)
            elif isinstance(event, ev.PlaybackFlush | ev.ItemTruncated) and host.recorder:
                # So is a cut: a client that hangs up once it is acknowledged must not take
                # the cut with it (the answer may be stored already, whole).
                await host.recorder.truncated(session, event.item_id)
            if isinstance(event, ev.AudioDelta) and host.options.binary_audio:
                await socket.send_bytes(event.audio)
            else:
                for wire in server_events(event, extensions=host.options.extensions):
                    await self._send(wire)
            if (error := host.guard.check_backlog(socket.unsent_bytes())) is not None:
                await self._abort(error)
                return
            if isinstance(event, ev.TransportNotice) and event.close_code is not None:
                await socket.close(event.close_code, close_reason(event.payload))
                return
            elif isinstance(event, ev.ConversationEnded):
                host.conversation_ended()
                await socket.close(CLOSE_NORMAL, "conversation ended")
                return

    def _ended(self, task: asyncio.Task[None]) -> None:
        """A pump that fails leaves the client deaf: say so now, and hang up (1011)."""
        if task.cancelled() or task.exception() is None:
            return
        logger.error("the event pump of %s failed", self.host.session_id, exc_info=task.exception())
        asyncio.get_running_loop().create_task(
            self.host.socket.close(CLOSE_SERVER_ERROR, "internal_error")
        )

    async def _abort(self, error: AuraError) -> None:
        """The client stopped reading: close (1008) and drop what it left unread."""
        logger.warning("closing %s: %s", self.host.session_id, error.message)
        await self.host.socket.close(CLOSE_NOT_READING, error.code)
        self.host.socket.abort()
