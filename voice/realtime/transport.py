"""The transport adapter between one WebSocket and one engine `VoiceSession`.

The consumer hands it frames and a way to send; it does the rest: limits, agent and
conversation, the session's lifetime, dispatch of client events, the event pump back to the
socket, persistence, resume snapshots, idle and maximum-length timeouts.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from django.conf import settings

from conversations.services import conversation_end, conversation_start
from monitoring.budget import BudgetStatus, budget_status
from monitoring.logging import session_var, tenant_var
from monitoring.loop_lag import ensure_loop_lag_monitor
from monitoring.metrics import ACTIVE_SESSIONS, PrometheusMetricsSink
from tenants.db import in_public_schema, in_schema
from tenants.selectors import organization_by_schema
from voice.engine import events as ev
from voice.engine.config import AgentConfig
from voice.engine.errors import AudioFormatError, AuraError, InvalidRequestError
from voice.engine.event_metrics import SessionEventMetrics
from voice.engine.events import Item
from voice.engine.session import VoiceSession
from voice.engine.tools import BUILTINS
from voice.realtime import client_events as ce
from voice.realtime.auth import (
    RealtimeCredentials,
    override_policy,
    session_agent,
    vouched_end_user,
)
from voice.realtime.control import realtime_session_taken_over_async
from voice.realtime.limits import (
    LEASE_SECONDS,
    SessionSlot,
    SessionTakenOverError,
    plan_limits,
    response_allowed,
    responses_left,
    session_slot_acquire,
    session_slot_release,
    session_slot_renew,
    slot_caps,
)
from voice.realtime.persistence import ConversationStore
from voice.realtime.quality_signals import (
    CeleryAudioSampler,
    CloseRecordingSocket,
    SessionSignals,
    record_feedback,
    record_outcome,
)
from voice.realtime.resume import (
    Snapshot,
    resume_keep_alive,
    resume_token_consume,
    resume_token_issue,
    snapshot_discard,
    snapshot_load,
    snapshot_save,
)
from voice.realtime.server_events import error_event, server_events
from voice.realtime.session_config import apply_session_update, session_json
from voice.selectors import agent_config, webhook_definitions, with_provider_keys
from voice.webhooks import WebhookExecutor

logger = logging.getLogger(__name__)

# Close codes (documented in docs/api/websocket-api.md).
CLOSE_NORMAL = 1000
CLOSE_UNAUTHORIZED = 4001
CLOSE_FORBIDDEN = 4003
CLOSE_IDLE = 4008
CLOSE_ENDED_BY_OPERATOR = 4009
CLOSE_MAX_DURATION = 4010
CLOSE_LIMIT = 4029
CLOSE_BUDGET = 4402
CLOSE_BAD_REQUEST = 4400
CLOSE_RESUMED_ELSEWHERE = 4409
CLOSE_SERVER_ERROR = 1011
# A session refused at open closes with the code of its error's type.
CLOSE_CODES = {
    "authentication_error": CLOSE_UNAUTHORIZED,
    "permission_error": CLOSE_FORBIDDEN,
    "rate_limit_error": CLOSE_LIMIT,
    "insufficient_quota": CLOSE_BUDGET,
    "invalid_request_error": CLOSE_BAD_REQUEST,
}

# Audio may arrive faster than real time (buffered clients), but not unboundedly so.
MAX_AUDIO_SPEEDUP = 4.0
# Audio frames already waiting when the socket is free go out as one delta of up to this long.
MERGE_AUDIO_UP_TO_MS = 200
AUDIO_BURST_S = 2.0


class Socket(Protocol):
    async def send_json(self, event: dict[str, Any]) -> None: ...
    async def send_bytes(self, data: bytes) -> None: ...
    async def close(self, code: int) -> None: ...


SessionFactory = Callable[..., VoiceSession]


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """What the client asked for in the URL: `?agent=&user=&resume=&aura=1&binary=1`."""

    agent: str | None = None
    # As asked; believed only from a secret key (voice.realtime.auth.vouched_end_user).
    end_user_id: str = ""
    resume: str | None = None
    extensions: bool = False
    binary_audio: bool = False
    model: str = "aura-local"


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
        self._slot: SessionSlot | None = None
        self._resume_token: str | None = None
        # Event ids: unique per connection, and cheaper than a uuid per audio frame.
        self._id_stem = uuid.uuid4().hex[:8] + "_"
        self._sent = 0
        self.session: VoiceSession | None = None
        self.store: ConversationStore | None = None
        self._webhook_executor: WebhookExecutor | None = None
        self.config = AgentConfig()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_client_activity = time.monotonic()
        self._first_audio_at: float | None = None
        self._audio_received_s = 0.0
        self._ended = False
        self._lost = False  # resumed on another socket
        self._responses_per_minute = 0
        self._budget_check: asyncio.Task[None] | None = None

    # --- lifetime -------------------------------------------------------------------------

    async def open(self) -> None:
        ensure_loop_lag_monitor()
        tenant_var.set(self.schema_name)
        organization = await in_public_schema(organization_by_schema, self.schema_name)
        limits = plan_limits(organization.plan)
        self._responses_per_minute = limits.responses_per_minute
        budget = await in_public_schema(budget_status, organization)
        if budget.exceeded:
            raise budget.error()
        snapshot = await self._take_session(limits.concurrent_sessions)
        conversation_id = await self._conversation(snapshot)
        self._public_overrides = await in_schema(
            self.schema_name, override_policy, self.credentials, conversation_id
        )
        self.config = (
            # A snapshot keeps no keys (it sits in Redis): put the organization's back.
            await in_schema(self.schema_name, with_provider_keys, snapshot.config)
            if snapshot
            else await self._agent_config()
        )
        self.store = ConversationStore(
            schema_name=self.schema_name,
            conversation_id=conversation_id,
            session_id=self.session_id,
            on_recorded=self._turn_recorded,
        )
        self.store.start()
        self._webhook_executor = await self._webhooks()
        self.session = self.build_session(
            self.config,
            memory=self.store,
            transcript_sink=self.store,
            metrics=PrometheusMetricsSink(),
            tool_executor=self._webhook_executor,
            response_gate=self,
            audio_sampler=CeleryAudioSampler(
                schema_name=self.schema_name, conversation_id=conversation_id
            ),
        )
        ACTIVE_SESSIONS.inc()  # paired with the decrement in close(), which clears `session`
        await self.session.__aenter__()
        if snapshot is not None:
            await self._restore(snapshot)
        await self._send(
            {
                "type": "session.created",
                "session": session_json(self.config, model=self.options.model),
            }
        )
        if self.options.extensions:
            await self._send(
                {
                    "type": "aura.session.created",
                    "session_id": self.session_id,
                    "conversation_id": conversation_id,
                    "resume_token": await self._make_resumable(self.session),
                    "resumed": snapshot is not None,
                }
            )
            if budget.warning:
                await self._send(budget_warning_event(budget))
        self._tasks = [
            asyncio.create_task(self._pump(), name="realtime-pump"),
            asyncio.create_task(self._keep_session(), name="realtime-lease"),
            asyncio.create_task(self._watchdog(), name="realtime-watchdog"),
        ]

    async def close(self) -> None:
        """Stop everything this connection started; idempotent."""
        tasks, self._tasks = self._tasks, []
        if self._budget_check is not None:
            tasks.append(self._budget_check)
            self._budget_check = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.session is not None:
            session, self.session = self.session, None
            ACTIVE_SESSIONS.dec()
            await session.close()
            if self.store is not None:
                # What no turn reported: audio after the last answer, a transcription without one.
                await self.store.record_usage(r.as_dict() for r in session.usage.drain())
            if self._ended:
                # Ended for good (goodbye, budget, operator): nothing is left to resume.
                await snapshot_discard(self.session_id, token=self._resume_token)
            elif not self._lost:
                await self._save_snapshot(session)
        if self._webhook_executor is not None:
            executor, self._webhook_executor = self._webhook_executor, None
            await executor.close()
        if self.store is not None:
            store, self.store = self.store, None
            await store.close()
            await record_outcome(
                self.signals,
                schema_name=self.schema_name,
                conversation_id=store.conversation_id,
                close_code=self.socket.close_code,
                lost=self._lost,
            )
            if self._ended:
                await in_schema(
                    self.schema_name, conversation_end, conversation_id=store.conversation_id
                )
        if self._slot is not None:
            slot, self._slot = self._slot, None
            await session_slot_release(slot)

    # --- frames from the client -----------------------------------------------------------

    async def receive_text(self, text: str) -> None:
        self._last_client_activity = time.monotonic()
        event_id = None
        try:
            event = ce.parse_client_event(text)
            event_id = event.event_id
            await self._dispatch(event)
        except AuraError as error:
            await self._send(error_event(error, event_id=event_id))

    async def receive_bytes(self, data: bytes) -> None:
        self._last_client_activity = time.monotonic()
        try:
            if not self.options.binary_audio:
                raise InvalidRequestError(
                    "binary frames are raw PCM audio, an extension: connect with ?aura=1&binary=1",
                    code="binary_not_enabled",
                )
            if len(data) > ce.MAX_MESSAGE_BYTES:
                raise InvalidRequestError(
                    "audio frame over the 1 MiB limit", code="message_too_large"
                )
            self._append_audio(data)
        except AuraError as error:
            await self._send(error_event(error))

    async def _dispatch(self, event: ce.ClientEvent) -> None:
        ce.refuse_overrides(event, allowed=self._public_overrides)
        handler = _HANDLERS[event.type]
        await handler(self, event.payload)

    # --- client event handlers ------------------------------------------------------------

    async def _session_update(self, payload: dict[str, Any]) -> None:
        self.config = apply_session_update(self.config, payload.get("session"))
        self._live().update(self.config)
        await self._send(
            {
                "type": "session.updated",
                "session": session_json(self.config, model=self.options.model),
            }
        )

    async def _append(self, payload: dict[str, Any]) -> None:
        self._append_audio(ce.decode_audio(payload))

    async def _commit(self, payload: dict[str, Any]) -> None:
        await self._live().commit_audio()

    async def _clear(self, payload: dict[str, Any]) -> None:
        await self._live().clear_audio()

    async def _output_clear(self, payload: dict[str, Any]) -> None:
        raise InvalidRequestError(
            "output_audio_buffer.clear is for WebRTC; over WebSocket use response.cancel and "
            "conversation.item.truncate",
            code="unsupported_event",
        )

    async def _item_create(self, payload: dict[str, Any]) -> None:
        await self._live().add_item(ce.item_to_create(payload))

    async def _item_truncate(self, payload: dict[str, Any]) -> None:
        await self._live().truncate(
            payload["item_id"], payload["content_index"], payload["audio_end_ms"]
        )

    async def _item_delete(self, payload: dict[str, Any]) -> None:
        item_id = payload["item_id"]
        self._live().conversation.remove(item_id)
        await self._send({"type": "conversation.item.deleted", "item_id": item_id})

    async def _item_retrieve(self, payload: dict[str, Any]) -> None:
        from voice.realtime.server_events import item_json

        entry = self._live().conversation.get(payload["item_id"])
        await self._send(
            {"type": "conversation.item.retrieved", "item": item_json(entry.snapshot())}
        )

    async def _response_create(self, payload: dict[str, Any]) -> None:
        await self.admit_response()
        options = ce.response_options(payload, default_modalities=self.config.output_modalities)
        await self._live().create_response(options)

    async def _response_cancel(self, payload: dict[str, Any]) -> None:
        await self._live().cancel_response()

    async def _playback_position(self, payload: dict[str, Any]) -> None:
        item_id, played_ms = payload.get("item_id"), payload.get("played_ms")
        if (
            not isinstance(item_id, str)
            or isinstance(played_ms, bool)
            or not isinstance(played_ms, int | float)
        ):
            raise InvalidRequestError(
                "aura.playback.position needs item_id and played_ms", code="invalid_event"
            )
        self._live().playback_position(item_id, float(played_ms))
        self.signals.playback_reported(payload)

    async def _feedback(self, payload: dict[str, Any]) -> None:
        if self.store is None:
            raise InvalidRequestError("the session is not open", code="session_closed")
        recorded = await record_feedback(
            self.signals,
            payload,
            session=self._live(),
            schema_name=self.schema_name,
            conversation_id=self.store.conversation_id,
        )
        if self.options.extensions:
            await self._send(recorded)

    # --- helpers ----------------------------------------------------------------------------

    def _live(self) -> VoiceSession:
        if self.session is None:
            raise InvalidRequestError("the session is not open", code="session_closed")
        return self.session

    def _append_audio(self, data: bytes) -> None:
        """Feed audio unless the client sends it much faster than real time."""
        fmt = self.config.input_format
        duration_s = len(data) / (fmt.bytes_per_sample * fmt.sample_rate_hz)
        now = time.monotonic()
        if self._first_audio_at is None:
            self._first_audio_at = now
        allowed_s = MAX_AUDIO_SPEEDUP * (now - self._first_audio_at) + AUDIO_BURST_S
        if self._audio_received_s + duration_s > allowed_s:
            raise AudioFormatError(
                f"audio arrives faster than {MAX_AUDIO_SPEEDUP:g}x real time; "
                "this chunk was dropped",
                code="audio_rate_exceeded",
            )
        self._audio_received_s += duration_s
        self._live().append_audio(data)

    async def _send(self, event: dict[str, Any]) -> None:
        self._sent += 1
        await self.socket.send_json({"event_id": f"event_{self._id_stem}{self._sent}", **event})

    async def _send_rate_limits(self, remaining: int, reset_seconds: float) -> None:
        await self._send(
            {
                "type": "rate_limits.updated",
                "rate_limits": [
                    {
                        "name": "requests",
                        "limit": self._responses_per_minute,
                        "remaining": remaining,
                        "reset_seconds": round(reset_seconds, 3),
                    }
                ],
            }
        )

    async def _pump(self) -> None:
        session = self._live()
        counts = SessionEventMetrics(PrometheusMetricsSink())
        async for event in session.events(merge_audio_up_to_ms=MERGE_AUDIO_UP_TO_MS):
            counts.observe(event)
            self.signals.observe(event)
            if isinstance(event, ev.AudioDelta) and self.options.binary_audio:
                await self.socket.send_bytes(event.audio)
            else:
                for wire in server_events(event, extensions=self.options.extensions):
                    await self._send(wire)
            if isinstance(event, ev.ResponseDone):
                await self._save_snapshot(session)
            elif isinstance(event, ev.PlaybackFlush | ev.ItemTruncated):
                await self._truncated(session, event.item_id)
            elif isinstance(event, ev.ConversationEnded):
                self._ended = True
                await self.socket.close(CLOSE_NORMAL)
                return

    async def _truncated(self, session: VoiceSession, item_id: str) -> None:
        """Store the cut: the answer may have been recorded before the user stopped it."""
        if self.store is None:
            return
        try:
            text = session.conversation.get(item_id).text
        except InvalidRequestError:
            return  # deleted by the client meanwhile: nothing to keep
        await self.store.item_truncated(item_id, text)

    async def _keep_session(self) -> None:
        """Renew this socket's leases, and keep its resume token and snapshot from expiring
        while it is live; a socket that lost its session to a resume elsewhere closes."""
        period_s = min(LEASE_SECONDS / 3, settings.AURA_RESUME_WINDOW_SECONDS / 2)
        while self._slot is not None:
            await asyncio.sleep(period_s)
            try:
                await session_slot_renew(self._slot)
            except SessionTakenOverError:
                await self.taken_over()
                return
            if self._resume_token is not None:
                await resume_keep_alive(session_id=self.session_id, token=self._resume_token)

    async def _watchdog(self) -> None:
        started = time.monotonic()
        idle_s, max_s = (
            settings.AURA_SESSION_IDLE_TIMEOUT_SECONDS,
            settings.AURA_SESSION_MAX_SECONDS,
        )
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            if now - self._last_client_activity > idle_s:
                await self._end_with(
                    "idle_timeout", f"No client events for {idle_s} s.", CLOSE_IDLE
                )
                return
            if now - started > max_s:
                await self._end_with(
                    "session_expired", f"Sessions last at most {max_s} s.", CLOSE_MAX_DURATION
                )
                return

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
        if self._ended:
            return
        self._ended = True
        await snapshot_discard(self.session_id, token=self._resume_token)
        message = reason or "The session was ended by an operator."
        await self._end_with(code, message, close_code)

    async def taken_over(self, by_socket_id: str | None = None) -> None:
        """The session was resumed on another socket: this one closes (4409), leaving the
        conversation, the snapshot and the session's lease to its successor."""
        if by_socket_id == self.socket_id or self._ended or self._lost:
            return
        self._lost = True
        error = SessionTakenOverError("This session was resumed on another connection.")
        await self._send(error_event(error))
        await self.socket.close(CLOSE_RESUMED_ELSEWHERE)

    # --- the ResponseGate port: every response counts against the organization's window ---

    async def admit_response(self) -> None:
        """Count a response (requested or automatic); the client gets `rate_limits.updated`.
        Raises `rate_limit_exceeded` when the minute's responses are used up."""
        window = await response_allowed(
            schema_name=self.schema_name, per_minute=self._responses_per_minute
        )
        await self._send_rate_limits(window.remaining, window.reset_seconds)

    async def responses_left(self) -> bool:
        """Whether a response could start now (counts nothing): speculation asks first."""
        return await responses_left(
            schema_name=self.schema_name, per_minute=self._responses_per_minute
        )

    async def _turn_recorded(self) -> None:
        """A turn and its cost are written: check the budget, off the writer's path."""
        if self._budget_check is None or self._budget_check.done():
            self._budget_check = asyncio.create_task(self._enforce_budget(), name="budget-check")

    async def _enforce_budget(self) -> None:
        """Past the budget, the session ends now that its turn is over (error, close 4402)."""
        organization = await in_public_schema(organization_by_schema, self.schema_name)
        budget = await in_public_schema(budget_status, organization)
        if budget.exceeded and not self._ended:
            self._ended = True
            await self._send(error_event(budget.error()))
            await self.socket.close(CLOSE_BUDGET)

    async def _end_with(self, code: str, message: str, close_code: int) -> None:
        await self._send(error_event(AuraError(message, code=code)))
        await self.socket.close(close_code)

    async def _webhooks(self) -> WebhookExecutor:
        """The executor of the agent's webhook tools (server tools that are not built in)."""
        names = [t.name for t in self.config.tools if t.kind == "server" and t.name not in BUILTINS]
        definitions = await in_schema(self.schema_name, webhook_definitions, names) if names else []
        return WebhookExecutor(
            definitions,
            allowed_hosts=settings.AURA_WEBHOOK_ALLOWED_HOSTS,
            allow_http=settings.AURA_TENANT_URLS_ALLOW_HTTP,
        )

    async def _agent_config(self) -> AgentConfig:
        def load() -> AgentConfig:
            return agent_config(session_agent(self.credentials, self.options.agent))

        config = await in_schema(self.schema_name, load)
        if self.credentials.session_defaults:
            config = apply_session_update(config, self.credentials.session_defaults)
        return config

    async def _conversation(self, snapshot: Snapshot | None) -> str:
        if snapshot is not None:
            return snapshot.conversation_id

        def start() -> str:
            agent = session_agent(self.credentials, self.options.agent)
            conversation = conversation_start(
                end_user_id=self.end_user_id, agent_id=agent.pk, session_id=self.session_id
            )
            return str(conversation.pk)

        return await in_schema(self.schema_name, start)

    async def _take_session(self, plan_cap: int) -> Snapshot | None:
        """Take this socket's slots for a new session, or for the resumed one (its token used
        up, taken over from the socket that held it); the snapshot to carry on from."""
        snapshot = None
        if self.options.resume:
            self.session_id = await resume_token_consume(
                self.options.resume,
                schema_name=self.schema_name,
                key_id=self.credentials.key_id,
            )
            # Before taking over: a session with nothing to resume from keeps its socket.
            snapshot = await snapshot_load(self.session_id, schema_name=self.schema_name)
        session_var.set(self.session_id)
        key_cap, address_cap = slot_caps(plan_cap=plan_cap, kind=self.credentials.kind)
        slot = SessionSlot(
            schema_name=self.schema_name,
            session_id=self.session_id,
            socket_id=self.socket_id,
            key_id=self.credentials.key_id,
            address=self.client_address,
            organization_cap=plan_cap,
            key_cap=key_cap,
            address_cap=address_cap,
        )
        await session_slot_acquire(slot, resuming=snapshot is not None)
        self._slot = slot
        if snapshot is not None:
            await realtime_session_taken_over_async(
                session_id=self.session_id, socket_id=self.socket_id
            )
        return snapshot

    async def _make_resumable(self, session: VoiceSession) -> str:
        """A fresh resume token, and a snapshot from the start: a session that is resumed
        before its first answer (or while its socket lingers) has one to carry on from."""
        self._resume_token = await resume_token_issue(
            session_id=self.session_id,
            schema_name=self.schema_name,
            key_id=self.credentials.key_id,
        )
        await self._save_snapshot(session)
        return self._resume_token

    async def _restore(self, snapshot: Snapshot) -> None:
        for role, text, _truncated, item_id in snapshot.messages:
            await self._live().add_item(Item(id=item_id, kind="message", role=role, text=text))  # type: ignore[arg-type]

    async def _save_snapshot(self, session: VoiceSession) -> None:
        if self.store is None or self._resume_token is None:
            return
        messages = tuple(
            (entry.role or "user", entry.text, entry.truncated, entry.id)
            for entry in session.conversation.entries
            if entry.kind == "message" and entry.role in ("user", "assistant") and entry.text
        )
        try:
            await snapshot_save(
                Snapshot(
                    session_id=self.session_id,
                    schema_name=self.schema_name,
                    conversation_id=self.store.conversation_id,
                    end_user_id=self.end_user_id,
                    config=self.config,
                    messages=messages,
                ),
                socket_id=self.socket_id,
                token=self._resume_token,
            )
        except Exception:
            logger.exception("could not save the resume snapshot of %s", self.session_id)


Handler = Callable[[RealtimeTransport, dict[str, Any]], Awaitable[None]]
_HANDLERS: dict[str, Handler] = {
    "session.update": RealtimeTransport._session_update,
    "input_audio_buffer.append": RealtimeTransport._append,
    "input_audio_buffer.commit": RealtimeTransport._commit,
    "input_audio_buffer.clear": RealtimeTransport._clear,
    "output_audio_buffer.clear": RealtimeTransport._output_clear,
    "conversation.item.create": RealtimeTransport._item_create,
    "conversation.item.truncate": RealtimeTransport._item_truncate,
    "conversation.item.delete": RealtimeTransport._item_delete,
    "conversation.item.retrieve": RealtimeTransport._item_retrieve,
    "response.create": RealtimeTransport._response_create,
    "response.cancel": RealtimeTransport._response_cancel,
    "aura.playback.position": RealtimeTransport._playback_position,
    "aura.feedback": RealtimeTransport._feedback,
}


def budget_warning_event(budget: BudgetStatus) -> dict[str, Any]:
    """AURA extension: the organization is past its budget's warning threshold."""
    return {
        "type": "aura.budget.warning",
        "budget_usd": str(budget.budget_usd),
        "spent_usd": str(budget.spent_usd.quantize(Decimal("0.000001"))),
        "used_percent": round(budget.used_percent or 0.0, 1),
    }
