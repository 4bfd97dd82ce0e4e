"""Circuit breakers: stop sending requests to a route that keeps failing, probe it later.

Written here rather than taken from a library: purgatory and aiobreaker read `time.time()`
directly (tests would have to sleep through cooldowns or patch the module), neither limits how
many probes a half-open circuit lets through, and both wrap a call in a context manager, while
the router decides success or failure at points of its own (the first chunk, the end of a
stream, a cancelled hedge that gives no verdict at all).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass

from voice.engine.ports import Clock, MetricsSink, MonotonicClock

logger = logging.getLogger(__name__)


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a circuit opens and how it recovers."""

    # Consecutive failures that open the circuit.
    failure_threshold: int = 3
    # How long an open circuit refuses requests before letting probes through.
    cooldown_s: float = 30.0
    # Requests allowed at once while half-open; their outcome closes or reopens the circuit.
    half_open_max_probes: int = 1


# Told (breaker, previous state, new state) on every change of state.
TransitionCallback = Callable[["CircuitBreaker", BreakerState, BreakerState], None]


class CircuitBreaker:
    """The health of one route, shared by every session of the process.

    Callers ask `allow_request()` before using the route and then report exactly one of
    `record_success()`, `record_failure()` or `release()` (no verdict, e.g. a cancelled hedge).
    Single-threaded by design: all callers run on one event loop.
    """

    def __init__(
        self,
        key: str,
        *,
        policy: BreakerPolicy,
        clock: Clock,
        on_transition: TransitionCallback | None = None,
    ) -> None:
        self.key = key
        self.policy = policy
        self._clock = clock
        self._on_transition = on_transition
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._probes_in_flight = 0

    def _move_to(self, state: BreakerState) -> None:
        previous, self._state = self._state, state
        if previous is not state and self._on_transition is not None:
            self._on_transition(self, previous, state)

    @property
    def state(self) -> BreakerState:
        if (
            self._state is BreakerState.OPEN
            and self._clock.monotonic() - self._opened_at >= self.policy.cooldown_s
        ):
            self._probes_in_flight = 0
            self._move_to(BreakerState.HALF_OPEN)
            logger.info("circuit %s half-open: probing", self.key)
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive_failures

    def retry_after_s(self) -> float:
        """Seconds until an open circuit lets a probe through (0 unless open)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.policy.cooldown_s - self._clock.monotonic())

    def allow_request(self) -> bool:
        """Whether the route may be used now; a half-open circuit counts the probe it grants."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and (
            self._probes_in_flight < self.policy.half_open_max_probes
        ):
            self._probes_in_flight += 1
            return True
        return False

    def record_success(self) -> None:
        if self._state is not BreakerState.CLOSED:
            logger.info("circuit %s closed: the route answered again", self.key)
        self._consecutive_failures = 0
        self._probes_in_flight = 0
        self._move_to(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self._consecutive_failures += 1
        if self._state is BreakerState.HALF_OPEN:
            self._open("a probe failed")
        elif (
            self._state is BreakerState.CLOSED
            and self._consecutive_failures >= self.policy.failure_threshold
        ):
            self._open(f"{self._consecutive_failures} consecutive failures")

    def release(self) -> None:
        """Give back a probe that ended without telling anything about the route's health."""
        if self._state is BreakerState.HALF_OPEN and self._probes_in_flight > 0:
            self._probes_in_flight -= 1

    def _open(self, reason: str) -> None:
        self._opened_at = self._clock.monotonic()
        self._probes_in_flight = 0
        self._move_to(BreakerState.OPEN)
        logger.warning("circuit %s open for %.1f s: %s", self.key, self.policy.cooldown_s, reason)


def breaker_labels(key: str) -> dict[str, str]:
    """Stage and provider of a route key (`stage:provider/model[@base_url]`), for metrics.

    Model names and base URLs are left out: tenants choose them, so as labels they would be
    unbounded (and a URL may say more than an operator's dashboard should).
    """
    stage, _, route = key.partition(":")
    return {"stage": stage, "provider": route.partition("/")[0]}


class BreakerRegistry:
    """One breaker per route key, created on first use with a common policy and clock.

    With a metrics sink (`report_to`), every breaker's state changes are observed as
    `circuit_transition` (value 1, labels stage, provider, `from` and `to`; `from` is empty
    when a breaker comes into being closed), so a gauge of circuits per state can be kept.
    """

    def __init__(
        self,
        *,
        policy: BreakerPolicy | None = None,
        clock: Clock | None = None,
        metrics: MetricsSink | None = None,
    ) -> None:
        self.policy = policy or BreakerPolicy()
        self.clock: Clock = clock or MonotonicClock()
        self._metrics = metrics
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, key: str) -> CircuitBreaker:
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = CircuitBreaker(
                key, policy=self.policy, clock=self.clock, on_transition=self._report
            )
            self._breakers[key] = breaker
            self._report(breaker, None, BreakerState.CLOSED)
        return breaker

    def report_to(self, metrics: MetricsSink) -> None:
        """Send state changes to `metrics` from now on (once: later calls change nothing)."""
        if self._metrics is not None:
            return
        # Read first: reading a state can itself move an open circuit to half-open.
        current = [(breaker, breaker.state) for breaker in self._breakers.values()]
        self._metrics = metrics
        for breaker, state in current:
            self._report(breaker, None, state)

    def _report(
        self, breaker: CircuitBreaker, previous: BreakerState | None, state: BreakerState
    ) -> None:
        if self._metrics is None:
            return
        labels = {
            **breaker_labels(breaker.key),
            "from": previous.value if previous else "",
            "to": state.value,
        }
        try:
            self._metrics.observe("circuit_transition", 1.0, labels)
        except Exception:
            # Metrics must never break a route decision.
            logger.exception("metrics sink failed on a circuit transition")

    def states(self) -> dict[str, BreakerState]:
        """Every known route's state, for health reports."""
        return {key: breaker.state for key, breaker in self._breakers.items()}


_process_registry: BreakerRegistry | None = None


def process_breakers() -> BreakerRegistry:
    """The registry every session of this process shares, so all see the same health."""
    global _process_registry
    if _process_registry is None:
        _process_registry = BreakerRegistry()
    return _process_registry
