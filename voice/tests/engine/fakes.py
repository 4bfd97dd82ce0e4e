"""Model-free stand-ins for the engine's providers, and a clock the test moves by hand.

They implement the same contracts as the real providers (`SpeechToText`'s `transcribe`,
`LanguageModel`, `TextToSpeech`, `VoiceActivityDetector`), record what they were asked, and
answer at once unless told to hold, so that turn logic runs in milliseconds of wall time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from voice.engine.config import TurnDetectionConfig
from voice.engine.llm import base as llm
from voice.engine.observability.turn_metrics import TurnTimeline
from voice.engine.observability.usage import UsageRecord
from voice.engine.ports import TurnReport
from voice.engine.stt.base import Transcript, TranscriptionRequest
from voice.engine.tts.base import TextToSpeech
from voice.engine.vad.base import VoiceActivityDetector

WIRE_RATE_HZ = 24_000
CHUNK_MS = 20
SPEECH_AMPLITUDE = 8_000


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, start_s: float = 100.0) -> None:
        self.now_s = start_s

    def monotonic(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


class LoudnessVad(VoiceActivityDetector):
    """Speech is any 10 ms frame louder than a whisper: tone in, speech; zeros, silence."""

    name = "loudness"
    frame_samples = 160

    def speech_probability(self, frame_16k: npt.NDArray[np.int16]) -> float:
        level = float(np.sqrt(np.mean(frame_16k.astype(np.float64) ** 2)))
        return 1.0 if level > 500 else 0.0


def loudness_vad(config: TurnDetectionConfig) -> VoiceActivityDetector:
    return LoudnessVad()


def speech(ms: int, rate_hz: int = WIRE_RATE_HZ) -> npt.NDArray[np.int16]:
    """A tone that `LoudnessVad` takes for speech."""
    t = np.arange(rate_hz * ms // 1000) / rate_hz
    return (SPEECH_AMPLITUDE * np.sin(2 * np.pi * 220 * t)).astype(np.int16)


def quiet(ms: int, rate_hz: int = WIRE_RATE_HZ) -> npt.NDArray[np.int16]:
    return np.zeros(rate_hz * ms // 1000, dtype=np.int16)


async def settle(rounds: int = 30) -> None:
    """Let every task that can run do so (the fakes never wait on the wall clock)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


@dataclass
class ScriptedSTT:
    """A speech-to-text that answers each request with the next transcript of its script
    (the last one repeats), or holds until `release` when `held`."""

    transcripts: list[str] = field(default_factory=lambda: ["Hello there."])
    runs_locally: bool = False
    held: bool = False
    calls: int = 0
    cancelled: int = 0
    requests: list[TranscriptionRequest] = field(default_factory=list)
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self._release.set()

    async def transcribe(self, request: TranscriptionRequest) -> Transcript:
        text = self.transcripts[min(self.calls, len(self.transcripts) - 1)]
        self.calls += 1
        self.requests.append(request)
        try:
            if self.held:
                await self._release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return Transcript(text=text, audio_duration_s=request.duration_s)


class ScriptedLLM(llm.LanguageModel):
    """Streams its reply word by word; records every request and every cancelled stream.

    `reply` may also be a tool call ("call:<name>:<json>") for the first round; later rounds
    then say `after_tool`. With `held`, a stream waits for `release` before its first token.
    """

    provider = "fake"
    model = "scripted"

    def __init__(self, reply: str = "Sure, I can help.", *, after_tool: str = "Done.") -> None:
        self.reply = reply
        self.after_tool = after_tool
        self.requests: list[llm.LLMRequest] = []
        self.cancelled = 0
        self.held = False
        # Raised by every stream when set (a provider that is down).
        self.failure: Exception | None = None
        self._release = asyncio.Event()

    def release(self) -> None:
        self._release.set()

    def last_user_text(self) -> str:
        users = [m.content for m in self.requests[-1].messages if m.role == "user"]
        return users[-1] if users else ""

    async def stream(self, request: llm.LLMRequest) -> AsyncIterator[llm.LLMChunk]:
        self.requests.append(request)
        if self.failure is not None:
            raise self.failure
        try:
            if self.held:
                await self._release.wait()
            answered_tool = any(m.role == "tool" for m in request.messages)
            if self.reply.startswith("call:") and not answered_tool:
                _, name, arguments = self.reply.split(":", 2)
                yield llm.ToolCallDelta(index=0, id="call_1", name=name, arguments=arguments)
                yield llm.Finish("tool_calls", llm.Usage(10, 5))
                return
            text = self.after_tool if answered_tool else self.reply
            for index, word in enumerate(text.split(" ")):
                yield llm.TextDelta(word if index == 0 else " " + word)
            yield llm.Finish("stop", llm.Usage(10, len(text.split())))
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


class FakeTTS(TextToSpeech):
    """`MS_PER_CHAR` of quiet audio per character, in one chunk per clause."""

    provider = "fake"
    model = "quiet"
    sample_rate_hz = 16_000
    MS_PER_CHAR = 10

    def __init__(self) -> None:
        self.clauses: list[str] = []

    async def synthesize(
        self, text: str, *, voice: str | None = None
    ) -> AsyncIterator[npt.NDArray[np.int16]]:
        self.clauses.append(text)
        yield np.zeros(len(text) * self.MS_PER_CHAR * 16, dtype=np.int16)


def llm_usage(*, prompt_tokens: int, completion_tokens: int) -> UsageRecord:
    """What one answered chat completion of gpt-4o-mini meters."""
    return UsageRecord(
        stage="llm",
        provider="openai",
        model="gpt-4o-mini",
        outcome="answered",
        requests=1,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        estimated_tokens=0,
        stt_seconds=0.0,
        tts_characters=0,
        audio_seconds=0.0,
    )


def turn_report(
    response_id: str, *, output_tokens: int = 0, usage: tuple[UsageRecord, ...] = ()
) -> TurnReport:
    """The report of a completed turn that measured nothing but its output tokens."""
    metrics = TurnTimeline().metrics(
        response_id=response_id, input_tokens=0, output_tokens=output_tokens, audio_out_s=0.0
    )
    return TurnReport(metrics, usage)


class RecordingSink:
    """A transcript sink that keeps what each finished turn reported."""

    def __init__(self) -> None:
        self.turns: list[tuple[tuple[llm.ChatMessage, ...], TurnReport]] = []

    async def turn_finished(
        self, messages: tuple[llm.ChatMessage, ...], report: TurnReport
    ) -> None:
        self.turns.append((messages, report))
