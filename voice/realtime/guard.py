"""What one realtime connection may do and for how long: its share of the limits.

`SessionGuard` holds the socket's slot (leases in Redis, voice/realtime/limits.py), counts
responses against the organization's window (the engine's `ResponseGate` port), bounds the
audio rate, the event rate, the conversation's text and the output a client leaves unread,
checks the budget after each recorded turn, and runs the idle and maximum-length watchdogs.
When a limit ends the session it asks its host (the transport) to end it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from django.conf import settings

from core.cancellation import cancel_and_wait
from monitoring.budget import budget_status
from tenants.db import in_public_schema
from tenants.selectors import organization_by_schema
from voice.engine.errors import AudioFormatError, AuraError, InvalidRequestError
from voice.engine.events import Item
from voice.realtime.limits import (
    LimitExceededError,
    SessionSlot,
    SessionTakenOverError,
    lease_seconds,
    response_allowed,
    responses_left,
    session_slot_acquire,
    session_slot_release,
    session_slot_renew,
)
from voice.realtime.resume import resume_keep_alive
from voice.realtime.wire import CLOSE_BUDGET, CLOSE_IDLE, CLOSE_MAX_DURATION

logger = logging.getLogger(__name__)

# Audio may arrive faster than real time (buffered clients), but not unboundedly so.
MAX_AUDIO_SPEEDUP = 4.0
AUDIO_BURST_S = 2.0


class GuardHost(Protocol):
    """What the guard needs of its transport."""

    def notify(self, payload: dict[str, Any]) -> None: ...
    async def end_with(self, error: AuraError, close_code: int, *, for_good: bool) -> None: ...
    async def taken_over(self, by_socket_id: str | None = None) -> None: ...


class TokenBucket:
    """`rate_per_s` on average, up to `burst` at once; in-process, per connection."""

    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate_per_s)
        self._updated = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class SessionGuard:
    def __init__(
        self,
        host: GuardHost,
        *,
        schema_name: str,
        responses_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._host = host
        self.schema_name = schema_name
        self.responses_per_minute = responses_per_minute
        self._clock = clock
        self.slot: SessionSlot | None = None
        self.resume_token: str | None = None
        self._events = TokenBucket(
            settings.AURA_REALTIME_EVENTS_PER_SECOND, settings.AURA_REALTIME_EVENT_BURST, clock
        )
        self._refused_since_report = 0
        self._last_refusal_report = float("-inf")
        self._last_client_activity = clock()
        self._started = clock()
        self._first_audio_at: float | None = None
        self._audio_received_s = 0.0
        self._budget_check: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # --- the slot -------------------------------------------------------------------------

    async def take_slot(self, slot: SessionSlot, *, resuming: bool) -> None:
        await session_slot_acquire(slot, resuming=resuming)
        self.slot = slot

    async def release_slot(self) -> None:
        if self.slot is not None:
            slot, self.slot = self.slot, None
            await session_slot_release(slot)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._keep_session(), name="realtime-lease"),
            asyncio.create_task(self._watchdog(), name="realtime-watchdog"),
        ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        if self._budget_check is not None:
            tasks.append(self._budget_check)
            self._budget_check = None
        await cancel_and_wait(*tasks)

    async def _keep_session(self) -> None:
        """Renew this socket's leases, and keep its resume token and snapshot from expiring
        while it is live; a socket that lost its session to a resume elsewhere closes. Redis
        going away for a moment costs a renewal, not the session."""
        period_s = min(lease_seconds() / 3, settings.AURA_RESUME_WINDOW_SECONDS / 2)
        while self.slot is not None:
            await asyncio.sleep(period_s)
            try:
                await session_slot_renew(self.slot)
                if self.resume_token is not None:
                    await resume_keep_alive(
                        session_id=self.slot.session_id, token=self.resume_token
                    )
            except SessionTakenOverError:
                await self._host.taken_over()
                return
            except Exception:
                logger.exception("could not renew the leases of %s", self.slot.session_id)

    # --- client events --------------------------------------------------------------------

    def client_event(self) -> None:
        """A frame arrived: the client is alive."""
        self._last_client_activity = self._clock()

    def admit_event(self) -> bool:
        """Whether this event may be handled. Past the rate the first refusal in each second
        raises `event_rate_exceeded`; the others return False (dropped silently, so that the
        errors cannot flood a client that floods)."""
        if self._events.take():
            return True
        self._refused_since_report += 1
        now = self._clock()
        if now - self._last_refusal_report < 1.0:
            return False
        refused, self._refused_since_report = self._refused_since_report, 0
        self._last_refusal_report = now
        logger.warning("client events over the rate: %d dropped", refused)
        raise LimitExceededError(
            f"Too many events: at most {self._events.rate_per_s:g} a second (bursts of "
            f"{self._events.burst}); {refused} dropped.",
            code="event_rate_exceeded",
        )

    def admit_audio(self, data: bytes, *, bytes_per_second: float) -> None:
        """Audio unless the client sends it much faster than real time."""
        duration_s = len(data) / bytes_per_second
        now = self._clock()
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

    def admit_item(self, item: Item, *, conversation_chars: int) -> None:
        """A client's item within the per-item and per-conversation text budgets."""
        size = len(item.text or "") + len(item.output or "") + len(item.arguments or "")
        per_item = settings.AURA_REALTIME_MAX_ITEM_CHARS
        if size > per_item:
            raise InvalidRequestError(
                f"the item holds {size} characters; at most {per_item} are accepted",
                code="item_too_large",
                param="item",
            )
        per_session = settings.AURA_REALTIME_MAX_CONVERSATION_CHARS
        if conversation_chars + size > per_session:
            raise InvalidRequestError(
                f"the conversation would hold over {per_session} characters of text; delete "
                "items or start a new session",
                code="conversation_too_large",
                param="item",
            )

    def check_backlog(self, unsent_bytes: int) -> AuraError | None:
        """After a send: the error that closes a client leaving too much unread (1008)."""
        limit = settings.AURA_REALTIME_MAX_UNSENT_BYTES
        if unsent_bytes <= limit:
            return None
        return AuraError(
            f"the client left over {limit} bytes unread; closing", code="client_not_reading"
        )

    # --- the ResponseGate port: every response counts against the organization's window ---

    async def admit_response(self) -> None:
        """Count a response (requested or automatic); the client gets `rate_limits.updated`.
        Raises `rate_limit_exceeded` when the minute's responses are used up."""
        window = await response_allowed(
            schema_name=self.schema_name, per_minute=self.responses_per_minute
        )
        self._host.notify(
            {
                "type": "rate_limits.updated",
                "rate_limits": [
                    {
                        "name": "requests",
                        "limit": self.responses_per_minute,
                        "remaining": window.remaining,
                        "reset_seconds": round(window.reset_seconds, 3),
                    }
                ],
            }
        )

    async def responses_left(self) -> bool:
        """Whether a response could start now (counts nothing): speculation asks first."""
        return await responses_left(
            schema_name=self.schema_name, per_minute=self.responses_per_minute
        )

    # --- budget and watchdogs -------------------------------------------------------------

    async def turn_recorded(self) -> None:
        """A turn and its cost are written: check the budget, off the writer's path."""
        if self._budget_check is None or self._budget_check.done():
            self._budget_check = asyncio.create_task(self._enforce_budget(), name="budget-check")

    async def _enforce_budget(self) -> None:
        """Past the budget, the session ends now that its turn is over (error, close 4402)."""
        try:
            organization = await in_public_schema(organization_by_schema, self.schema_name)
            budget = await in_public_schema(budget_status, organization)
        except Exception:
            logger.exception("could not check the budget of %s", self.schema_name)
            return
        if budget.exceeded:
            await self._host.end_with(budget.error(), CLOSE_BUDGET, for_good=True)

    async def _watchdog(self) -> None:
        idle_s = settings.AURA_SESSION_IDLE_TIMEOUT_SECONDS
        max_s = settings.AURA_SESSION_MAX_SECONDS
        while True:
            await asyncio.sleep(1.0)
            now = self._clock()
            if now - self._last_client_activity > idle_s:
                error = AuraError(f"No client events for {idle_s} s.", code="idle_timeout")
                await self._host.end_with(error, CLOSE_IDLE, for_good=False)
                return
            if now - self._started > max_s:
                error = AuraError(f"Sessions last at most {max_s} s.", code="session_expired")
                await self._host.end_with(error, CLOSE_MAX_DURATION, for_good=False)
                return
