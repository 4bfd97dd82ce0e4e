"""What the engine needs from the outside world, as small protocols.

The Django side implements these over the tenant's schema and Celery; tests and the CLI use
in-process implementations.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from voice.engine.events import TurnMetrics
from voice.engine.llm.base import ChatMessage
from voice.engine.observability.sink import MetricsSink as MetricsSink
from voice.engine.observability.usage import UsageRecord


class Clock(Protocol):
    def monotonic(self) -> float: ...


class MonotonicClock:
    def monotonic(self) -> float:
        return time.monotonic()


class MemorySource(Protocol):
    async def summary(self) -> str | None:
        """A summary of what came before the kept history (earlier turns or sessions)."""
        ...


@dataclass(frozen=True, slots=True)
class TurnReport:
    """What one finished turn reports to the transcript sink besides its messages."""

    # Latencies, tokens, route and how the turn ended ("completed", "cancelled", "failed").
    metrics: TurnMetrics
    # Everything consumed since the previous report: this answer, cancelled and hedged
    # generations, speculative transcriptions, the audio in and out.
    usage: tuple[UsageRecord, ...] = ()

    @property
    def response_id(self) -> str:
        return self.metrics.response_id


class TranscriptSink(Protocol):
    async def turn_finished(self, messages: tuple[ChatMessage, ...], report: TurnReport) -> None:
        """Persist the messages one turn added (called at turn boundaries, never per frame)."""
        ...


class ToolExecutor(Protocol):
    async def execute(self, name: str, arguments: Mapping[str, object], *, call_id: str) -> str:
        """Run a server-side tool and return its result as text (usually JSON)."""
        ...


class ResponseGate(Protocol):
    """Admission of the responses a session starts by itself (server VAD, `create_response`),
    so that they count against the same limits as the ones a client asks for."""

    async def admit_response(self) -> None:
        """Count one response about to start; raise an `AuraError` to refuse it."""
        ...

    async def responses_left(self) -> bool:
        """Whether a response could start now, counting nothing (asked before speculating)."""
        ...


class AudioSampler(Protocol):
    """Takes a sampled share of user turns and spoken answers for quality scoring (DNSMOS).

    The engine asks `wants_sample` before it keeps an answer's audio (so unsampled answers
    cost nothing) and hands the audio over once; the sampler must not block the event loop
    and must not store the audio anywhere that outlives the scoring.
    """

    def wants_sample(self) -> bool: ...

    def sample(
        self,
        *,
        direction: Literal["input", "output"],
        item_id: str,
        audio: npt.NDArray[np.int16],
        rate_hz: int,
    ) -> None: ...
