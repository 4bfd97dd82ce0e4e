"""What a realtime session tells about its quality: how its conversation ended (the outcome),
the user's ratings (`aura.feedback`), the widget's playback reports, sampled audio for DNSMOS,
and sessions refused at the door.

The transport feeds `SessionSignals` every engine event and hands it the client's
`aura.feedback` and `aura.playback.position` events; when the socket lets go of the
conversation, `record_outcome` writes the outcome (docs/api/usage-and-billing.md defines the
outcomes and the success rate built on them).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from django.conf import settings

from conversations.models import Conversation, Feedback, SessionRefusal
from conversations.services import (
    conversation_record_outcome,
    feedback_record,
    session_refusal_count,
)
from monitoring.metrics import (
    CONVERSATIONS,
    FEEDBACK,
    PLAYBACK_LATE_AUDIO,
    PLAYBACK_UNDERRUNS,
    SESSIONS_REFUSED,
    TURNS,
)
from tenants.db import in_schema
from voice.engine import events as ev
from voice.engine.errors import AuraError, InvalidRequestError
from voice.engine.pipeline.session import VoiceSession
from voice.realtime.aura_events import FeedbackEvent, PlaybackPosition
from voice.realtime.auth import RealtimeCredentials

logger = logging.getLogger(__name__)

# Close codes as voice.realtime.transport defines them (not imported: that module imports this).
CLOSE_NORMAL = 1000
CLOSE_IDLE = 4008
CLOSE_ENDED_BY_OPERATOR = 4009
CLOSE_MAX_DURATION = 4010
CLOSE_BUDGET = 4402
CLOSE_RESUMED_ELSEWHERE = 4409
CLOSE_SERVER_ERROR = 1011

# Ratings one session may write (each replaces the last one of its target).
MAX_FEEDBACK_PER_SESSION = 200
# A playback report can add at most this much (a client's numbers are bounded, not trusted).
MAX_UNDERRUNS_PER_REPORT = 50
MAX_LATE_MS_PER_REPORT = 10_000.0
# Audio handed to a DNSMOS task: its first window is all that is scored (monitoring/mos.py).
MAX_SAMPLED_AUDIO_S = 10

Outcome = Conversation.Outcome


@dataclass(frozen=True, slots=True)
class OutcomeDecision:
    outcome: str
    reason: str
    end: bool


class SessionSignals:
    """One session's running account of its turns, answers and the client's reports."""

    def __init__(self) -> None:
        self.answered = 0
        self.last_turn_status: str | None = None
        self.last_error_code = ""
        self.responding = False
        self.transcribing: set[str] = set()
        self.agent_ended = False
        self.feedback_written = 0
        self._underruns_seen = 0
        self._late_ms_seen = 0.0
        self.underruns = 0
        self.late_ms = 0.0

    # --- engine events --------------------------------------------------------------------

    def observe(self, event: ev.SessionEvent) -> None:
        if isinstance(event, ev.InputCommitted):
            self.transcribing.add(event.item_id)
        elif isinstance(event, ev.TranscriptionCompleted | ev.TranscriptionFailed):
            self.transcribing.discard(event.item_id)
        elif isinstance(event, ev.ResponseCreated):
            self.responding = True
        elif isinstance(event, ev.ResponseDone):
            self.responding = False
        elif isinstance(event, ev.TurnMetrics):
            self.last_turn_status = event.status
            if event.status == "completed":
                self.answered += 1
            elif event.status == "failed":
                self.last_error_code = event.error_code or "failed"
        elif isinstance(event, ev.ConversationEnded):
            self.agent_ended = True

    # --- the client's playback reports ----------------------------------------------------

    def playback_reported(self, position: PlaybackPosition) -> None:
        """`aura.playback.position` may carry the player's running `underruns` count and
        `late_ms` (time it waited for audio that was due); only increases count."""
        underruns, late_ms = position.underruns, position.late_ms
        if underruns is not None and underruns > self._underruns_seen:
            added = min(int(underruns - self._underruns_seen), MAX_UNDERRUNS_PER_REPORT)
            self._underruns_seen = int(underruns)
            self.underruns += added
            PLAYBACK_UNDERRUNS.inc(added)
        if late_ms is not None and late_ms > self._late_ms_seen:
            added_ms = min(late_ms - self._late_ms_seen, MAX_LATE_MS_PER_REPORT)
            self._late_ms_seen = late_ms
            self.late_ms += added_ms
            PLAYBACK_LATE_AUDIO.inc(added_ms / 1000)

    # --- the outcome ----------------------------------------------------------------------

    def decide(self, *, close_code: int | None, lost: bool) -> OutcomeDecision | None:
        """How the conversation ended for this socket; None when another socket carries it on."""
        if lost or close_code == CLOSE_RESUMED_ELSEWHERE:
            return None
        if self.agent_ended:
            return OutcomeDecision(Outcome.ENDED_BY_AGENT, "end_conversation", True)
        if close_code == CLOSE_ENDED_BY_OPERATOR:
            return OutcomeDecision(Outcome.ENDED_BY_OPERATOR, "session_ended", True)
        if close_code == CLOSE_BUDGET:
            return OutcomeDecision(Outcome.REFUSED, "budget_exceeded", True)
        if close_code == CLOSE_SERVER_ERROR:
            # The server broke the connection: the turn in flight failed at the transport.
            if self.responding or self.transcribing:
                TURNS.labels(status="failed", failed_stage="transport").inc()
            return OutcomeDecision(Outcome.FAILED, "transport_error", False)
        reason = {CLOSE_IDLE: "idle_timeout", CLOSE_MAX_DURATION: "session_expired"}.get(
            close_code or 0, "client_closed"
        )
        return self._by_last_turn(reason)

    def _by_last_turn(self, reason: str) -> OutcomeDecision:
        if self.last_turn_status == "failed":
            return OutcomeDecision(Outcome.FAILED, self.last_error_code, False)
        if self.responding or self.transcribing:
            return OutcomeDecision(Outcome.ABANDONED, "left_mid_turn", False)
        if self.answered:
            return OutcomeDecision(Outcome.COMPLETED, reason, False)
        return OutcomeDecision(Outcome.ABANDONED, "no_answer", False)


async def record_outcome(
    signals: SessionSignals,
    *,
    schema_name: str,
    conversation_id: str,
    close_code: int | None,
    lost: bool,
) -> OutcomeDecision | None:
    decision = signals.decide(close_code=close_code, lost=lost)
    if decision is None:
        return None
    CONVERSATIONS.labels(outcome=decision.outcome).inc()
    try:
        await in_schema(
            schema_name,
            conversation_record_outcome,
            conversation_id=conversation_id,
            outcome=decision.outcome,
            reason=decision.reason,
            end=decision.end,
            playback_underruns=signals.underruns,
            late_audio_ms=signals.late_ms,
        )
    except Exception:
        logger.exception("could not record the outcome of conversation %s", conversation_id)
    return decision


class CloseRecordingSocket:
    """The transport's socket, remembering the code the server closed it with."""

    def __init__(self, socket: Any) -> None:
        self._socket = socket
        self.close_code: int | None = None

    async def send_json(self, event: dict[str, Any]) -> None:
        await self._socket.send_json(event)

    async def send_bytes(self, data: bytes) -> None:
        await self._socket.send_bytes(data)

    async def close(self, code: int, reason: str | None = None) -> None:
        if self.close_code is None:
            self.close_code = code
        await self._socket.close(code, reason)

    def unsent_bytes(self) -> int:
        return int(self._socket.unsent_bytes())

    def abort(self) -> None:
        self._socket.abort()


# --- aura.feedback ----------------------------------------------------------------------------


async def record_feedback(
    signals: SessionSignals,
    request: FeedbackEvent,
    *,
    session: VoiceSession,
    schema_name: str,
    conversation_id: str,
) -> dict[str, Any]:
    """Store a rating of this session's conversation (or of one of its answers); the
    `aura.feedback.recorded` event to send back."""
    if request.item_id:
        # Only an answer of this very conversation, as this session holds it.
        entry = session.conversation.get(request.item_id)
        if entry.role != "assistant":
            raise InvalidRequestError(
                "only the assistant's answers can be rated", code="invalid_event", param="item_id"
            )
    if signals.feedback_written >= MAX_FEEDBACK_PER_SESSION:
        raise InvalidRequestError(
            f"a session gives at most {MAX_FEEDBACK_PER_SESSION} ratings",
            code="feedback_limit_reached",
        )

    def write() -> Feedback:
        conversation = Conversation.objects.get(pk=conversation_id)
        return feedback_record(
            conversation=conversation,
            rating=request.rating,
            comment=request.comment,
            item_id=request.item_id,
            source=Feedback.Source.REALTIME,
        )

    feedback = await in_schema(schema_name, write)
    signals.feedback_written += 1
    FEEDBACK.labels(
        rating=feedback.rating, target="answer" if feedback.item_id else "conversation"
    ).inc()
    return {
        "type": "aura.feedback.recorded",
        "item_id": feedback.item_id or None,
        "rating": feedback.rating,
    }


# --- refusals ---------------------------------------------------------------------------------

_REFUSAL_REASONS = {
    "authentication_error": SessionRefusal.Reason.AUTH,
    "permission_error": SessionRefusal.Reason.AUTH,
    "rate_limit_error": SessionRefusal.Reason.CAP,
    "insufficient_quota": SessionRefusal.Reason.BUDGET,
}


async def record_refusal(credentials: RealtimeCredentials | None, error: AuraError) -> None:
    """A session refused before it began: counted in Prometheus, and in the organization's
    own rollups when the caller proved which organization it belongs to (a valid key; an
    invalid one names no organization and writes nothing, so it cannot fill a database)."""
    reason = _REFUSAL_REASONS.get(error.error_type, SessionRefusal.Reason.OTHER)
    SESSIONS_REFUSED.labels(reason=reason).inc()
    CONVERSATIONS.labels(outcome=Outcome.REFUSED).inc()
    if credentials is None:
        return
    try:
        await in_schema(credentials.tenant.schema_name, session_refusal_count, reason=reason)
    except Exception:
        logger.exception("could not count a refused session")


# --- sampled audio for DNSMOS -----------------------------------------------------------------


class CeleryAudioSampler:
    """The engine's `AudioSampler`: a share (AURA_MOS_SAMPLE_RATE) of user turns and spoken
    answers goes to a Celery task, the audio inside the task's message, scored and dropped."""

    def __init__(
        self, *, schema_name: str, conversation_id: str, rate: float | None = None
    ) -> None:
        self.schema_name = schema_name
        self.conversation_id = conversation_id
        self.rate = settings.AURA_MOS_SAMPLE_RATE if rate is None else rate
        self._pending: set[asyncio.Future[None]] = set()

    def wants_sample(self) -> bool:
        return self.rate > 0 and random.random() < self.rate

    def sample(
        self,
        *,
        direction: Literal["input", "output"],
        item_id: str,
        audio: npt.NDArray[np.int16],
        rate_hz: int,
    ) -> None:
        clip = np.ascontiguousarray(audio[: MAX_SAMPLED_AUDIO_S * rate_hz], dtype=np.int16)
        encoded = base64.b64encode(clip.tobytes()).decode("ascii")
        # Publishing to the broker is blocking I/O: a worker thread does it.
        future = asyncio.get_running_loop().run_in_executor(
            None, self._enqueue, direction, item_id, encoded, rate_hz
        )
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def _enqueue(self, direction: str, item_id: str, encoded: str, rate_hz: int) -> None:
        from monitoring.tasks import score_audio_mos

        try:
            score_audio_mos.delay(
                self.schema_name, self.conversation_id, item_id, direction, encoded, rate_hz
            )
        except Exception:
            logger.exception("could not queue a DNSMOS sample")
