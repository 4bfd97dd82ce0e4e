"""Scripted audio streams and an event recorder for driving a real `VoiceSession` in tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pytest
import pytest_asyncio
import soxr

from voice.engine.audio.files import read_audio_file
from voice.engine.config import AgentConfig, AudioFormat, RouteConfig
from voice.engine.events import AudioDelta, SessionEvent
from voice.engine.llm.base import LanguageModel
from voice.engine.llm.llama_cpp import LlamaCppLLM
from voice.engine.pipeline.session import VoiceSession
from voice.engine.pipeline.tools import ToolRegistry
from voice.engine.routing.providers import llm_from_route
from voice.engine.stt.local_whisper import LocalWhisperSTT
from voice.engine.tts.piper import PiperTTS
from voice.tests.engine.simulator import SimulatorProcess, run_simulator

REPO_ROOT = Path(__file__).resolve().parents[3]
TEST_AUDIO = REPO_ROOT / "testdata" / "audio"
WIRE = AudioFormat()  # pcm16 at 24 kHz, the OpenAI default
CHUNK_MS = 20

E = TypeVar("E")


def recording(name: str, rate_hz: int = WIRE.sample_rate_hz) -> npt.NDArray[np.int16]:
    """A shared recording as int16 mono at `rate_hz`."""
    audio, source_rate_hz = read_audio_file(TEST_AUDIO / name)
    # soxr (untyped) resamples in the dtype it is given.
    resampled: npt.NDArray[np.int16] = soxr.resample(audio, source_rate_hz, rate_hz)
    return np.clip(resampled, -32768, 32767).astype(np.int16)


def silence(ms: int, rate_hz: int = WIRE.sample_rate_hz) -> npt.NDArray[np.int16]:
    return np.zeros(rate_hz * ms // 1000, dtype=np.int16)


def noise(ms: int, *, rms: float, seed: int = 7) -> npt.NDArray[np.int16]:
    rng = np.random.default_rng(seed)
    samples = rng.normal(0.0, rms, WIRE.sample_rate_hz * ms // 1000)
    return np.clip(samples, -32768, 32767).astype(np.int16)


async def feed(
    session: VoiceSession,
    audio: npt.NDArray[np.int16],
    *,
    realtime: bool = True,
    chunk_ms: int = CHUNK_MS,
) -> None:
    """Append PCM16 audio in `chunk_ms` chunks, at the pace of a microphone when `realtime`."""
    chunk_samples = WIRE.sample_rate_hz * chunk_ms // 1000
    started_s = time.monotonic()
    for index, start in enumerate(range(0, len(audio), chunk_samples)):
        session.append_audio(audio[start : start + chunk_samples].tobytes())
        if realtime:
            # Sleep to the schedule rather than by chunk, so event-loop lag does not accumulate.
            due_s = started_s + (index + 1) * chunk_ms / 1000
            await asyncio.sleep(max(0.0, due_s - time.monotonic()))
        elif index % 50 == 0:
            await asyncio.sleep(0)


@dataclass
class EventLog:
    """Reads a session's events as a transport would, recording when each arrived."""

    session: VoiceSession
    events: list[SessionEvent] = field(default_factory=list)
    times_s: list[float] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> EventLog:
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for event in self.session.events():
            self.events.append(event)
            self.times_s.append(time.monotonic())
            self._changed.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})

    def of_type(self, kind: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, kind)]

    def index_of(self, event: Any) -> int:
        return next(i for i, logged in enumerate(self.events) if logged is event)

    def time_of(self, event: Any) -> float:
        return self.times_s[self.index_of(event)]

    def first(self, kind: type[E]) -> E:
        return self.of_type(kind)[0]

    async def wait_for(self, kind: type[E], *, timeout_s: float = 30.0, count: int = 1) -> E:
        """Wait until `count` events of `kind` have arrived; return the last of them."""
        async with asyncio.timeout(timeout_s):
            while len(self.of_type(kind)) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.of_type(kind)[count - 1]

    async def wait_until(self, condition: Callable[[], bool], *, timeout_s: float = 30.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    def audio_of(self, response_id: str) -> npt.NDArray[np.int16]:
        frames = [e.audio for e in self.of_type(AudioDelta) if e.response_id == response_id]
        return np.frombuffer(b"".join(frames), dtype=np.int16)


def rms(audio: npt.NDArray[np.int16]) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if len(audio) else 0.0


def words(text: str) -> list[str]:
    cleaned = "".join(c.lower() if c.isalnum() else " " for c in text)
    return cleaned.split()


class Microphone:
    """Streams audio into a session in real time, as a client's microphone does: what was
    queued with `say`, then silence, 20 ms at a time until stopped."""

    def __init__(self, session: VoiceSession) -> None:
        self._session = session
        self._pending = np.zeros(0, dtype=np.int16)
        self._task: asyncio.Task[None] | None = None
        self.said_at_s: list[float] = []

    def start(self) -> Microphone:
        self._task = asyncio.create_task(self._stream())
        return self

    def say(self, audio: npt.NDArray[np.int16]) -> None:
        self._pending = np.concatenate([self._pending, audio])
        self.said_at_s.append(time.monotonic())

    @property
    def idle(self) -> bool:
        return len(self._pending) == 0

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})

    async def _stream(self) -> None:
        chunk_samples = WIRE.sample_rate_hz * CHUNK_MS // 1000
        started_s = time.monotonic()
        index = 0
        while True:
            chunk, self._pending = self._pending[:chunk_samples], self._pending[chunk_samples:]
            if len(chunk) < chunk_samples:
                chunk = np.concatenate([chunk, silence(CHUNK_MS)[: chunk_samples - len(chunk)]])
            self._session.append_audio(chunk.tobytes())
            index += 1
            due_s = started_s + index * CHUNK_MS / 1000
            await asyncio.sleep(max(0.0, due_s - time.monotonic()))


# --- fixtures (import them into a test module to use them) ------------------------------------

SessionFactory = Callable[..., VoiceSession]
SimulatorLLM = Callable[[str], LanguageModel]


@pytest_asyncio.fixture(scope="session")
async def local_models() -> None:
    """Load Whisper, Piper and Gemma once per test session (the routers reuse `shared()`)."""
    await LocalWhisperSTT.load_shared()
    await PiperTTS.load_shared()
    await LlamaCppLLM.shared().load()


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorProcess]:
    with run_simulator() as process:
        yield process


@pytest.fixture
def simulator_llm(simulator: SimulatorProcess) -> SimulatorLLM:
    """A language model served by the simulator; the model name steers what it does."""

    def build(model: str) -> LanguageModel:
        route = RouteConfig(provider="openai_compatible", model=model, base_url=simulator.base_url)
        return llm_from_route(route)

    return build


@pytest.fixture
def make_session(local_models: None) -> SessionFactory:
    """Sessions over the real local models (routers from the config's routes) and tools."""

    def build(config: AgentConfig, **overrides: Any) -> VoiceSession:
        overrides.setdefault("tools", ToolRegistry(config.tools))
        return VoiceSession(config, **overrides)

    return build
