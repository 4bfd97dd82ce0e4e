"""The transport between one WebSocket and one engine `VoiceSession`: a thin composition.

- `handlers.DISPATCHER` turns client events into calls of the session (the protocol);
- `SessionGuard` holds the socket's slot and limits and runs the watchdogs;
- `SessionRecorder` persists turns write-ahead and keeps the resume snapshot;
- `EventPump` writes the session's events to the socket.

The transport opens and closes them in order. The pump is the only writer to the socket:
whatever else must reach the client (errors, `session.updated`, rate limits) is posted into
the session's event stream.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from django.conf import settings

from conversations.services import conversation_end
from monitoring.budget import budget_status
from monitoring.logging import session_var, tenant_var
from monitoring.loop_lag import ensure_loop_lag_monitor
from monitoring.memory_trim import ensure_memory_trimmer
from monitoring.metrics import ACTIVE_SESSIONS, PrometheusMetricsSink
from tenants.db import in_public_schema, in_schema
from tenants.selectors import organization_by_schema
from voice.engine import events as ev
from voice.engine.config import AgentConfig
from voice.engine.errors import AuraError, InvalidRequestError
from voice.engine.pipeline.session import VoiceSession
from voice.realtime import client_events as ce
from voice.realtime import shutdown
from voice.realtime.auth import (
    RealtimeCredentials,
    override_policy,
    vouched_end_user,
)
from voice.realtime.control import realtime_session_taken_over_async
from voice.realtime.guard import SessionGuard
from voice.realtime.handlers import DISPATCHER
from voice.realtime.limits import SessionTakenOverError, plan_limits
from voice.realtime.opening import (
    budget_warning_event,
    conversation_open,
    resumed_session,
    session_agent_config,
    session_slot,
    webhook_executor,
)
from voice.realtime.pump import EventPump
from voice.realtime.quality_signals import (
    CeleryAudioSampler,
    CloseRecordingSocket,
    SessionSignals,
    record_outcome,
)
from voice.realtime.recorder import SessionRecorder
from voice.realtime.resume import Snapshot
from voice.realtime.server_events import error_event
from voice.realtime.session_config import session_json
from voice.realtime.wire import (
    CLOSE_ENDED_BY_OPERATOR,
    CLOSE_RESUMED_ELSEWHERE,
    CLOSE_SERVICE_RESTART,
    ConnectOptions,
    SessionFactory,
    Socket,
)
from voice.selectors import with_provider_keys
from voice.webhooks import WebhookExecutor

logger = logging.getLogger(__name__)


class RealtimeTransport:
    def __init__(
        self,
        *,
        credentials: RealtimeCredentials,
        socket: Socket,
        options: ConnectOptions,
        build_session: SessionFactory,
        client_address: str = "unknown",
    ) -> None:
        self.credentials = credentials
        self.client_address = client_address
        # Quality signals (quality_signals.py): the close code tells how a session ended.
        self.socket = CloseRecordingSocket(socket)
        self.signals = SessionSignals()
        self.options = options
        self.build_session = build_session
        self.schema_name = credentials.tenant.schema_name
        self.session_id = "sess_" + uuid.uuid4().hex
        # Only a user the organization vouches for; memory follows from it (auth.py).
        self.end_user_id = vouched_end_user(credentials, options.end_user_id)
        # What of the model's settings the client may change (None: everything).
        self._public_overrides: frozenset[str] | None = None
        # This socket, as distinct from the session it holds (a resume moves the session).
        self.socket_id = "sock_" + uuid.uuid4().hex
        self.config = AgentConfig()
        self.session: VoiceSession | None = None
        self.guard: SessionGuard = SessionGuard(
            self, schema_name=self.schema_name, responses_per_minute=0
        )
        self.recorder: SessionRecorder | None = None
        self._webhook_executor: WebhookExecutor | None = None
        self.pump = EventPump(self)
        self._closing: asyncio.Task[None] | None = None
        self._ended = False  # for good: goodbye, budget, operator
        self._lost = False  # resumed on another socket

    @property
    def model(self) -> str:
        return self.options.model

    @property
    def conversation_id(self) -> str:
        if self.recorder is None:
            raise InvalidRequestError("the session is not open", code="session_closed")
        return self.recorder.conversation_id

    # --- lifetime -------------------------------------------------------------------------

    async def open(self) -> None:
        ensure_loop_lag_monitor()
        ensure_memory_trimmer()
        tenant_var.set(self.schema_name)
        organization = await in_public_schema(organization_by_schema, self.schema_name)
        limits = plan_limits(organization.plan)
        self.guard.responses_per_minute = limits.responses_per_minute
        budget = await in_public_schema(budget_status, organization)
        if budget.exceeded:
            raise budget.error()
        snapshot = await self._take_session(limits.concurrent_sessions)
        conversation_id = (
            snapshot.conversation_id
            if snapshot
            else await conversation_open(
                self.credentials,
                self.options.agent,
                end_user_id=self.end_user_id,
                session_id=self.session_id,
            )
        )
        self._public_overrides = await in_schema(
            self.schema_name, override_policy, self.credentials, conversation_id
        )
        self.config = (
            # A snapshot keeps no keys (it sits in Redis): put the organization's back.
            await in_schema(self.schema_name, with_provider_keys, snapshot.config)
            if snapshot
            else await session_agent_config(self.credentials, self.options.agent)
        )
        recorder = self.recorder = SessionRecorder(
            schema_name=self.schema_name,
            session_id=self.session_id,
            socket_id=self.socket_id,
            conversation_id=conversation_id,
            end_user_id=self.end_user_id,
            key_id=self.credentials.key_id,
            on_recorded=self.guard.turn_recorded,
        )
        recorder.start()
        if snapshot is not None:
            await recorder.recover()
        self._webhook_executor = await webhook_executor(self.schema_name, self.config)
        session = self.session = self.build_session(
            self.config,
            memory=recorder.store,
            transcript_sink=recorder.store,
            metrics=PrometheusMetricsSink(),
            tool_executor=self._webhook_executor,
            response_gate=self.guard,
            audio_sampler=CeleryAudioSampler(
                schema_name=self.schema_name, conversation_id=conversation_id
            ),
            client_cancels_echo=self.options.client_cancels_echo,
        )
        ACTIVE_SESSIONS.inc()  # paired with the decrement in close(), which clears `session`
        await session.__aenter__()
        # The client hears of the session before the items a resume restores.
        self.notify(
            {"type": "session.created", "session": session_json(self.config, model=self.model)}
        )
        if self.options.extensions:
            self.notify(
                {
                    "type": "aura.session.created",
                    "session_id": self.session_id,
                    "conversation_id": conversation_id,
                    "resume_token": await recorder.issue_resume_token(),
                    "resumed": snapshot is not None,
                }
            )
            self.guard.resume_token = recorder.resume_token
            if budget.warning:
                self.notify(budget_warning_event(budget))
        if snapshot is not None:
            await recorder.restore(session, snapshot)
        # From the start: a session resumed before its first answer has one to carry on from.
        await recorder.save_snapshot(session, self.config)
        self.pump.start(session)
        self.guard.start()
        shutdown.register(self)

    async def close(self) -> None:
        """Stop everything this connection started; idempotent, and safe to call from several
        tasks at once (the consumer's disconnect and a shutdown): they share one closing,
        which runs to its end even if the caller is cancelled."""
        await asyncio.shield(self.close_soon())

    def close_soon(self) -> asyncio.Task[None]:
        """Start closing (once) in a task of its own; the task."""
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(
                self._close(), name="realtime-close"
            )
        return self._closing

    async def _close(self) -> None:
        shutdown.unregister(self)
        await self.guard.stop()
        await self.pump.stop()
        grace_s = float(settings.AURA_SHUTDOWN_GRACE_SECONDS)
        if self.session is not None:
            session, self.session = self.session, None
            ACTIVE_SESSIONS.dec()
            await session.close()
            if self.recorder is not None:
                await self.recorder.session_closed(
                    session, self.config, ended=self._ended, lost=self._lost
                )
        if self._webhook_executor is not None:
            executor, self._webhook_executor = self._webhook_executor, None
            await executor.close()
        if self.recorder is not None:
            recorder, self.recorder = self.recorder, None
            await recorder.close(timeout_s=grace_s)
            await record_outcome(
                self.signals,
                schema_name=self.schema_name,
                conversation_id=recorder.conversation_id,
                close_code=self.socket.close_code,
                lost=self._lost,
            )
            if self._ended:
                await in_schema(
                    self.schema_name, conversation_end, conversation_id=recorder.conversation_id
                )
        await self.guard.release_slot()

    # --- frames from the client -----------------------------------------------------------

    async def receive_text(self, text: str) -> None:
        try:
            if not self._admitted():
                return
        except AuraError as error:
            self.notify(error_event(error))
            return
        try:
            event = ce.parse_client_event(text)
        except AuraError as error:
            # A frame refused before it became an event still has its id echoed.
            self.notify(error_event(error, event_id=ce.claimed_event_id(text)))
            return
        try:
            ce.refuse_overrides(event, allowed=self._public_overrides)
            await DISPATCHER.dispatch(self, event)
        except AuraError as error:
            self.notify(error_event(error, event_id=event.event_id))

    async def receive_bytes(self, data: bytes) -> None:
        try:
            if not self._admitted():
                return
            if not self.options.binary_audio:
                raise InvalidRequestError(
                    "binary frames are raw PCM audio, an extension: connect with ?aura=1&binary=1",
                    code="binary_not_enabled",
                )
            if len(data) > ce.MAX_MESSAGE_BYTES:
                raise InvalidRequestError(
                    "audio frame over the 1 MiB limit", code="message_too_large"
                )
            self.feed_audio(data)
        except AuraError as error:
            self.notify(error_event(error))

    def _admitted(self) -> bool:
        self.guard.client_event()
        return self.guard.admit_event()

    # --- the Connection interface of handlers ---------------------------------------------

    def live(self) -> VoiceSession:
        if self.session is None:
            raise InvalidRequestError("the session is not open", code="session_closed")
        return self.session

    def feed_audio(self, data: bytes) -> None:
        fmt = self.config.input_format
        self.guard.admit_audio(data, bytes_per_second=fmt.bytes_per_sample * fmt.sample_rate_hz)
        self.live().append_audio(data)

    def notify(self, payload: dict[str, Any], *, close_code: int | None = None) -> None:
        """Queue a server event (and maybe a close after it) behind the session's events."""
        if self.session is not None:
            self.session.post(ev.TransportNotice(payload, close_code))

    # --- ending ---------------------------------------------------------------------------

    def conversation_ended(self) -> None:
        """The agent ended the conversation (a goodbye): for good."""
        self._ended = True

    async def end_with(self, error: AuraError, close_code: int, *, for_good: bool) -> None:
        """Tell the client why (an `error` event), then close with `close_code`; for good
        (budget, operator, revoked key) the conversation ends and cannot be resumed."""
        if self._ended or self._lost:
            return
        if for_good:
            self._ended = True
            if self.recorder is not None:
                await self.recorder.discard_snapshot()
        self.notify(error_event(error), close_code=close_code)

    async def end_by_operator(
        self,
        reason: str = "",
        *,
        code: str = "session_ended",
        close_code: int = CLOSE_ENDED_BY_OPERATOR,
    ) -> None:
        """End the session for good (an operator's request, a revoked key, a suspended
        organization; from any process): the conversation ends, the resume snapshot and token
        go, the client gets an `error` with `code`, then `close_code` (default 4009)."""
        message = reason or "The session was ended by an operator."
        await self.end_with(AuraError(message, code=code), close_code, for_good=True)

    async def taken_over(self, by_socket_id: str | None = None) -> None:
        """The session was resumed on another socket: this one closes (4409), leaving the
        conversation, the snapshot and the session's lease to its successor."""
        if by_socket_id == self.socket_id or self._ended or self._lost:
            return
        self._lost = True
        error = SessionTakenOverError("This session was resumed on another connection.")
        self.notify(error_event(error), close_code=CLOSE_RESUMED_ELSEWHERE)

    async def restart_elsewhere(self) -> None:
        """The server is shutting down: the client reconnects to another one (1012) and
        resumes there; the snapshot is saved and the writes are drained first."""
        if self.session is not None and self.recorder is not None:
            await self.recorder.save_snapshot(self.session, self.config)
        await self.socket.close(CLOSE_SERVICE_RESTART, "service restart")
        await self.close()

    # --- opening --------------------------------------------------------------------------

    async def _take_session(self, plan_cap: int) -> Snapshot | None:
        """Take this socket's slots for a new session, or for the resumed one (its token used
        up, taken over from the socket that held it); the snapshot to carry on from."""
        snapshot = None
        if self.options.resume:
            # Before taking over: a session with nothing to resume from keeps its socket.
            snapshot = await resumed_session(self.options.resume, self.credentials)
            self.session_id = snapshot.session_id
        session_var.set(self.session_id)
        slot = session_slot(
            self.credentials, self.session_id, self.socket_id, self.client_address, plan_cap
        )
        await self.guard.take_slot(slot, resuming=snapshot is not None)
        if snapshot is not None:
            await realtime_session_taken_over_async(
                session_id=self.session_id, socket_id=self.socket_id
            )
        return snapshot
