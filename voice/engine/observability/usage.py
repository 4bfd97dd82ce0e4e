"""What a session consumed, per stage, provider and model: the raw facts of billing.

The routers report every provider call to a `UsageMeter`: LLM tokens (including generations
that were cancelled by a barge-in or lost a hedging race: the provider charges for those too),
seconds of audio transcribed (speculative transcriptions included), characters synthesized.
The session adds the audio it received and sent. The transport drains the meter at turn
boundaries and persists what accrued; prices are applied outside the engine.

Providers report exact token counts only at the end of a stream. A stream cut short never
gets there, so its tokens are estimated from the text (about four characters a token) and the
record says so (`estimated`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Literal

from voice.engine.llm.base import ChatMessage, LLMChunk, LLMRequest, TextDelta, ToolCallDelta

UsageStage = Literal["llm", "stt", "tts", "audio_in", "audio_out"]
# How an LLM generation ended: it answered, was cancelled (barge-in, client cancel, lost a
# hedge), or failed. Other stages always record "answered".
Outcome = Literal["answered", "cancelled", "failed"]

CHARS_PER_TOKEN = 4
# Audio is counted by the platform itself, not by a provider.
PLATFORM = "aura"


def estimate_tokens(characters: int) -> int:
    """A provider-neutral estimate: about four characters a token, at least one if any."""
    return (characters + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def request_characters(messages: Iterable[ChatMessage]) -> int:
    total = 0
    for message in messages:
        total += len(message.content)
        total += sum(len(call.name) + len(call.arguments) for call in message.tool_calls)
    return total


@dataclass(frozen=True, slots=True)
class UsageKey:
    stage: UsageStage
    provider: str
    model: str
    outcome: Outcome = "answered"


@dataclass(slots=True)
class UsageAmounts:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Tokens of the two above that are estimates (streams that ended before their usage).
    estimated_tokens: int = 0
    stt_seconds: float = 0.0
    tts_characters: int = 0
    audio_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """Usage of one (stage, provider, model, outcome) over some span (a turn, a session end)."""

    stage: UsageStage
    provider: str
    model: str
    outcome: Outcome
    requests: int
    prompt_tokens: int
    completion_tokens: int
    estimated_tokens: int
    stt_seconds: float
    tts_characters: int
    audio_seconds: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(slots=True)
class UsageMeter:
    """Accumulates usage until `drain()`; one per session, not shared between threads."""

    _pending: dict[UsageKey, UsageAmounts] = field(default_factory=dict)

    def _amounts(self, key: UsageKey) -> UsageAmounts:
        amounts = self._pending.get(key)
        if amounts is None:
            amounts = self._pending[key] = UsageAmounts()
        return amounts

    def llm(
        self,
        provider: str,
        model: str,
        *,
        prompt_tokens: int,
        completion_tokens: int,
        estimated: bool,
        outcome: Outcome,
    ) -> None:
        amounts = self._amounts(UsageKey("llm", provider, model, outcome))
        amounts.requests += 1
        amounts.prompt_tokens += prompt_tokens
        amounts.completion_tokens += completion_tokens
        if estimated:
            amounts.estimated_tokens += prompt_tokens + completion_tokens

    def stt(self, provider: str, model: str, *, seconds: float) -> None:
        amounts = self._amounts(UsageKey("stt", provider, model))
        amounts.requests += 1
        amounts.stt_seconds += seconds

    def tts(self, provider: str, model: str, *, characters: int) -> None:
        amounts = self._amounts(UsageKey("tts", provider, model))
        amounts.requests += 1
        amounts.tts_characters += characters

    def audio_in(self, seconds: float) -> None:
        if seconds > 0:
            self._amounts(UsageKey("audio_in", PLATFORM, "")).audio_seconds += seconds

    def audio_out(self, seconds: float) -> None:
        if seconds > 0:
            self._amounts(UsageKey("audio_out", PLATFORM, "")).audio_seconds += seconds

    def drain(self) -> tuple[UsageRecord, ...]:
        """What accrued since the last drain, and start afresh."""
        pending, self._pending = self._pending, {}
        return tuple(
            UsageRecord(
                stage=key.stage,
                provider=key.provider,
                model=key.model,
                outcome=key.outcome,
                requests=amounts.requests,
                prompt_tokens=amounts.prompt_tokens,
                completion_tokens=amounts.completion_tokens,
                estimated_tokens=amounts.estimated_tokens,
                stt_seconds=round(amounts.stt_seconds, 3),
                tts_characters=amounts.tts_characters,
                audio_seconds=round(amounts.audio_seconds, 3),
            )
            for key, amounts in pending.items()
        )


@dataclass(slots=True)
class GenerationTally:
    """Counts one LLM stream as it passes, then reports it to the meter once."""

    request: LLMRequest
    characters: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def saw(self, chunk: LLMChunk) -> None:
        if isinstance(chunk, TextDelta):
            self.characters += len(chunk.text)
        elif isinstance(chunk, ToolCallDelta):
            self.characters += len(chunk.name or "") + len(chunk.arguments)
        elif chunk.usage.prompt_tokens or chunk.usage.completion_tokens:
            self.prompt_tokens = chunk.usage.prompt_tokens
            self.completion_tokens = chunk.usage.completion_tokens

    def report(self, meter: UsageMeter, provider: str, model: str, outcome: Outcome) -> None:
        if self.prompt_tokens is not None and self.completion_tokens is not None:
            meter.llm(
                provider,
                model,
                prompt_tokens=self.prompt_tokens,
                completion_tokens=self.completion_tokens,
                estimated=False,
                outcome=outcome,
            )
            return
        meter.llm(
            provider,
            model,
            prompt_tokens=estimate_tokens(request_characters(self.request.messages)),
            completion_tokens=estimate_tokens(self.characters),
            estimated=True,
            outcome=outcome,
        )
