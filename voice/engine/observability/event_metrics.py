"""Operational counts read off a session's event stream: provider errors, failovers, barge-ins.

A transport passes each event it takes from `VoiceSession.events()` to `observe`; the counts go
to the `MetricsSink` port as observations of value 1:

- `provider_error` (stage, provider): a route failed (before or after its first output).
- `provider_failover` (stage, provider): a route answered after another route of the same
  stage had failed, been skipped or been refused by its open circuit since the stage last
  answered; `provider` is the route that answered.
- `barge_in` (outcome): the user spoke over an answer and it was stopped (`interrupted`).

Labels name only stages and provider kinds, never models, base URLs or tenants.
"""

from __future__ import annotations

import logging

from voice.engine import events as ev
from voice.engine.observability.sink import MetricsSink

logger = logging.getLogger(__name__)

# Decisions after which the next winner of the stage is a failover.
_SETBACKS = frozenset({"failed", "skipped", "breaker_open"})


class SessionEventMetrics:
    """Counts what one session's events say about providers and interruptions."""

    def __init__(self, sink: MetricsSink) -> None:
        self._sink = sink
        self._set_back: set[str] = set()

    def observe(self, event: ev.SessionEvent) -> None:
        try:
            if isinstance(event, ev.RouteDecision):
                self._route_decision(event)
            elif (
                isinstance(event, ev.ResponseDone)
                and event.status == "cancelled"
                and event.reason == "turn_detected"
            ):
                self._sink.observe("barge_in", 1.0, {"outcome": "interrupted"})
        except Exception:
            # Metrics must never break a conversation.
            logger.exception("metrics sink failed on %s", type(event).__name__)

    def _route_decision(self, decision: ev.RouteDecision) -> None:
        labels = {"stage": decision.stage, "provider": decision.provider}
        if decision.action == "failed":
            self._sink.observe("provider_error", 1.0, labels)
        if decision.action in _SETBACKS:
            self._set_back.add(decision.stage)
        elif decision.action == "won":
            if decision.stage in self._set_back:
                self._sink.observe("provider_failover", 1.0, labels)
            self._set_back.discard(decision.stage)
