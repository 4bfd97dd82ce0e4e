"""Playing a recording into a session as a client would, and collecting the turn that follows.

Shared by the `voice_chat` command and the latency benchmark, so both measure the same thing.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from voice.engine import events as ev
from voice.engine.config import AudioFormat
from voice.engine.pipeline.session import VoiceSession

CHUNK_MS = 20


@dataclass
class TurnResult:
    """One user turn and the assistant's answer, as the client saw them."""

    transcript: str = ""
    reply_text: str = ""
    reply_audio: list[bytes] = field(default_factory=list)
    metrics: ev.TurnMetrics | None = None
    status: str = ""
    errors: list[str] = field(default_factory=list)
    # Wall-clock view from outside the engine: last audio chunk sent → first reply audio.
    client_voice_to_voice_ms: float | None = None

    def audio(self) -> npt.NDArray[np.int16]:
        return np.frombuffer(b"".join(self.reply_audio), dtype="<i2")


async def stream_audio(
    session: VoiceSession, audio: npt.NDArray[np.int16], fmt: AudioFormat, *, realtime: bool = True
) -> float:
    """Append PCM16 audio in 20 ms chunks at microphone pace; return when the last one went."""
    chunk_samples = fmt.sample_rate_hz * CHUNK_MS // 1000
    started = time.monotonic()
    for index, start in enumerate(range(0, len(audio), chunk_samples)):
        chunk = audio[start : start + chunk_samples]
        session.append_audio(chunk.astype("<i2").tobytes())
        if realtime:
            await asyncio.sleep(
                max(0.0, started + (index + 1) * CHUNK_MS / 1000 - time.monotonic())
            )
        else:
            await asyncio.sleep(0)
    return time.monotonic()


async def run_turn(
    session: VoiceSession,
    audio: npt.NDArray[np.int16],
    fmt: AudioFormat,
    *,
    realtime: bool = True,
    timeout_s: float = 120.0,
) -> TurnResult:
    """Speak `audio` into the session, then silence as an open microphone does, and collect
    the response it triggers.

    Raises:
        TimeoutError: no response ended within `timeout_s`.
    """
    result = TurnResult()
    speech_sent_at: list[float] = []

    async def speak() -> None:
        speech_sent_at.append(await stream_audio(session, audio, fmt, realtime=realtime))
        silence = np.zeros(fmt.sample_rate_hz, dtype=np.int16)
        while True:  # until the turn is over and this task is cancelled
            await stream_audio(session, silence, fmt, realtime=True)

    speaker = asyncio.create_task(speak(), name="recording-speaker")
    try:
        async with asyncio.timeout(timeout_s):
            async for event in session.events():
                if _collect(result, event, speech_sent_at):
                    break
    finally:
        speaker.cancel()
        await asyncio.gather(speaker, return_exceptions=True)
    return result


def _collect(result: TurnResult, event: ev.SessionEvent, speech_sent_at: list[float]) -> bool:
    """Record one event; True when the turn is over."""
    if isinstance(event, ev.TranscriptionCompleted):
        result.transcript = event.transcript
        if not any(character.isalnum() for character in event.transcript):
            # No words (a cough, a noise): the engine rightly says nothing back.
            result.status = "no_words"
            return True
    elif isinstance(event, ev.TranscriptionFailed):
        result.errors.append(f"{event.error.code}: {event.error.message}")
        result.status = "transcription_failed"
        return True
    elif isinstance(event, ev.AudioDelta):
        if not result.reply_audio and speech_sent_at:
            result.client_voice_to_voice_ms = (time.monotonic() - speech_sent_at[0]) * 1000
        result.reply_audio.append(event.audio)
    elif isinstance(event, ev.AudioTranscriptDone):
        result.reply_text += event.transcript
    elif isinstance(event, ev.TextDone):
        result.reply_text += event.text
    elif isinstance(event, ev.SessionError):
        result.errors.append(f"{event.error.code}: {event.error.message}")
    elif isinstance(event, ev.TurnMetrics):
        result.metrics = event
    elif isinstance(event, ev.ResponseDone):
        result.status = event.status
    # Metrics follow response.done; a turn is over once both arrived (or the response failed).
    return bool(result.status) and (result.metrics is not None or result.status != "completed")
