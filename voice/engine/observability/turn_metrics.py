"""Per-turn latency bookkeeping, and the join between the audio clock and the monotonic clock.

Input audio is timed by its sample count (the audio clock); everything else by
`Clock.monotonic()`. `ArrivalClock` joins the two: it remembers when each appended chunk
arrived, so a sample position (such as "speech ended here") maps to the monotonic instant the
server received that sample. That instant is the earliest moment the server could have known,
which is what voice-to-voice must be measured from.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from voice.engine.config import PIPELINE_RATE_HZ
from voice.engine.events import TurnMetrics
from voice.engine.observability.sink import MetricsSink

# Arrival times older than this are forgotten (no turn looks back further).
ARRIVAL_HISTORY_S = 120.0


class ArrivalClock:
    """Maps 16 kHz input sample positions to the monotonic time they arrived."""

    def __init__(self) -> None:
        self.total_samples = 0
        # (end sample of an appended chunk, monotonic arrival time), in order.
        self._arrivals: deque[tuple[int, float]] = deque()

    def audio_arrived(self, samples: int, at_s: float) -> None:
        self.total_samples += samples
        self._arrivals.append((self.total_samples, at_s))
        while self._arrivals and self._arrivals[0][1] < at_s - ARRIVAL_HISTORY_S:
            self._arrivals.popleft()

    def arrival_of(self, sample: int) -> float | None:
        """When the chunk holding `sample` arrived (None if forgotten or not yet arrived)."""
        for end_sample, at_s in self._arrivals:
            if end_sample >= sample:
                return at_s
        return None

    @property
    def total_ms(self) -> int:
        return self.total_samples * 1000 // PIPELINE_RATE_HZ


@dataclass(slots=True)
class TurnTimeline:
    """Monotonic instants (seconds) of one turn's milestones; None until reached."""

    speech_end_at: float | None = None
    speech_stopped_at: float | None = None
    transcript_at: float | None = None
    llm_started_at: float | None = None
    first_token_at: float | None = None
    first_clause_at: float | None = None
    tts_started_at: float | None = None
    tts_first_audio_at: float | None = None
    first_audio_out_at: float | None = None
    audio_in_s: float = 0.0
    user_item_id: str | None = None
    speculative: bool = False
    llm_route: str | None = None
    extra: dict[str, float] = field(default_factory=dict)
    # The user's audio in this turn (voice.engine.observability.audio_quality), once measured.
    audio_quality: dict[str, float] = field(default_factory=dict)

    def mark_once(self, name: str, at_s: float) -> None:
        if getattr(self, name) is None:
            setattr(self, name, at_s)

    def metrics(
        self,
        *,
        response_id: str,
        input_tokens: int,
        output_tokens: int,
        audio_out_s: float,
        status: str = "completed",
        failed_stage: str | None = None,
        error_code: str | None = None,
    ) -> TurnMetrics:
        # A speculative transcript is often ready before speech_stopped: it cost no waiting.
        stt_ms = _elapsed_ms(self.speech_stopped_at, self.transcript_at)
        return TurnMetrics(
            response_id=response_id,
            user_item_id=self.user_item_id,
            stt_ms=None if stt_ms is None else max(0.0, stt_ms),
            llm_first_token_ms=_elapsed_ms(
                self.transcript_at or self.llm_started_at, self.first_token_at
            ),
            first_clause_ms=_elapsed_ms(self.llm_started_at, self.first_clause_at),
            tts_first_audio_ms=_elapsed_ms(self.tts_started_at, self.tts_first_audio_at),
            voice_to_voice_ms=_elapsed_ms(self.speech_end_at, self.first_audio_out_at),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            audio_in_s=round(self.audio_in_s, 3),
            audio_out_s=round(audio_out_s, 3),
            llm_route=self.llm_route,
            speculative=self.speculative,
            status=status,
            failed_stage=failed_stage,
            error_code=error_code,
            audio_quality=dict(self.audio_quality),
        )


def _elapsed_ms(start_s: float | None, end_s: float | None) -> float | None:
    if start_s is None or end_s is None:
        return None
    return round((end_s - start_s) * 1000, 1)


def observe(sink: MetricsSink | None, metrics: TurnMetrics, labels: Mapping[str, str]) -> None:
    """Report each measured latency of a turn to the metrics port."""
    if sink is None:
        return
    for name in (
        "stt_ms",
        "llm_first_token_ms",
        "first_clause_ms",
        "tts_first_audio_ms",
        "voice_to_voice_ms",
    ):
        value = getattr(metrics, name)
        if value is not None:
            sink.observe(name, float(value), labels)
    # Every turn, whatever stage it failed at: the error and success rates count these.
    sink.observe("turn", 1.0, {**labels, "failed_stage": metrics.failed_stage or ""})
    for name, value in metrics.audio_quality.items():
        sink.observe(f"audio_{name}", float(value), labels)
    sink.observe("audio_in_s", metrics.audio_in_s, labels)
    sink.observe("audio_out_s", metrics.audio_out_s, labels)
    sink.observe("output_tokens", float(metrics.output_tokens), labels)
