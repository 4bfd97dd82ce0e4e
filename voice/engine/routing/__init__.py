"""Routes each model call over an ordered list of providers, with failover and hedging.

The router composes providers; it is not one. For every call it walks the configured routes in
order, skipping those whose circuit is open or that cannot be built (a missing API key), fails
over when a route errs before producing output, and for the LLM hedges: a route silent past its
first-token budget gets the next route started beside it, and the first to speak wins. Once
output has reached the caller the router never switches routes (the user would hear the start
of the answer twice); a later error propagates.

Every decision is reported as a `RouteDecision`, for metrics and the admin live view.
"""

from voice.engine.routing.base import (
    AUTHENTICATION_STATUSES,
    Action,
    DecisionCallback,
    RouteCall,
    RouteDecision,
    RoutedStream,
    RouteFailure,
    RoutesExhaustedError,
    Stage,
    breaker_key,
    close_iterator,
    counts_against_route,
    credential_fingerprint,
    public_reason,
    route_label,
    unexpected_failure,
)
from voice.engine.routing.llm import LLMRouter
from voice.engine.routing.stt import STTRouter
from voice.engine.routing.tts import TTSChunk, TTSRouter

__all__ = [
    "AUTHENTICATION_STATUSES",
    "Action",
    "DecisionCallback",
    "LLMRouter",
    "RouteCall",
    "RouteDecision",
    "RouteFailure",
    "RoutedStream",
    "RoutesExhaustedError",
    "STTRouter",
    "Stage",
    "TTSChunk",
    "TTSRouter",
    "breaker_key",
    "close_iterator",
    "counts_against_route",
    "credential_fingerprint",
    "public_reason",
    "route_label",
    "unexpected_failure",
]
