"""Real recordings as a realtime client sends them: base64 PCM16 chunks at microphone pace."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import numpy as np

from voice.tests.engine.voice_harness import recording, silence
from voice.tests.engine.voice_harness import rms as rms_of_samples


def recording_pcm(name: str, *, trailing_silence_ms: int = 1500) -> bytes:
    """The recording at 24 kHz followed by silence, so server VAD can end the turn."""
    return np.concatenate([recording(name), silence(trailing_silence_ms)]).astype("<i2").tobytes()


async def paced_chunks(
    pcm: bytes, *, chunk_ms: int = 40, rate_hz: int = 24_000
) -> AsyncIterator[str]:
    """Base64 chunks released in real time, on a schedule so loop lag does not accumulate."""
    chunk_bytes = rate_hz * 2 * chunk_ms // 1000
    loop = asyncio.get_running_loop()
    started = loop.time()
    for index, offset in enumerate(range(0, len(pcm), chunk_bytes)):
        await asyncio.sleep(max(0.0, started + index * chunk_ms / 1000 - loop.time()))
        yield base64.b64encode(pcm[offset : offset + chunk_bytes]).decode("ascii")


def rms(pcm: bytes) -> float:
    return rms_of_samples(np.frombuffer(pcm, dtype="<i2"))
