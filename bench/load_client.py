"""The load generator's sessions: each speaks a recording in real time and times the answers."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.latency import UTTERANCE_PAD_MS
from bench.load_setup import RATE_HZ


@dataclass
class Turn:
    voice_to_voice_ms: float
    # The server's own account of the turn (aura.turn.metrics): where the time went.
    engine: dict[str, Any] = field(default_factory=dict)


@dataclass
class SessionResult:
    turns: list[Turn] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # From the socket opening to its closing: the conversation time the server was paid for.
    duration_s: float = 0.0


class Speaker:
    """A client session: speaks the utterance, keeps the microphone open, times the answer."""

    def __init__(self, socket: ClientConnection, utterance: bytes, chunk_ms: int) -> None:
        self.socket = socket
        self.utterance = utterance
        self.chunk_bytes = RATE_HZ * 2 * chunk_ms // 1000
        self.chunk_s = chunk_ms / 1000
        self.speech_end_at: float | None = None

    def _append(self, pcm: bytes) -> str:
        audio = base64.b64encode(pcm).decode()
        return json.dumps({"type": "input_audio_buffer.append", "audio": audio})

    async def microphone(self, turns: int, turn_done: asyncio.Queue[None]) -> None:
        silence = self._append(bytes(self.chunk_bytes))
        speech = [
            self._append(self.utterance[i : i + self.chunk_bytes])
            for i in range(0, len(self.utterance), self.chunk_bytes)
        ]
        started = time.monotonic()
        sent = 0

        async def send(frame: str) -> None:
            nonlocal sent
            await self.socket.send(frame)
            sent += 1
            await asyncio.sleep(max(0.0, started + sent * self.chunk_s - time.monotonic()))

        for _ in range(turns):
            for frame in speech:
                await send(frame)
            # The user stopped talking when the last chunk was due (paced to the schedule),
            # less the bit of silence the utterance was cut with.
            self.speech_end_at = started + sent * self.chunk_s - UTTERANCE_PAD_MS / 1000
            while turn_done.empty():
                await send(silence)
            await turn_done.get()
            for _ in range(int(1 / self.chunk_s)):  # a second's pause before speaking again
                await send(silence)


async def run_session(
    url: str, key: str, utterance: bytes, *, turns: int, chunk_ms: int, delay_s: float
) -> SessionResult:
    await asyncio.sleep(delay_s)
    result = SessionResult()
    started = time.monotonic()
    try:
        async with connect(
            url,
            additional_headers={"Authorization": f"Bearer {key}"},
            max_size=None,
            open_timeout=30,
        ) as socket:
            started = time.monotonic()
            speaker = Speaker(socket, utterance, chunk_ms)
            turn_done: asyncio.Queue[None] = asyncio.Queue()
            microphone = asyncio.create_task(speaker.microphone(turns, turn_done))
            try:
                await asyncio.wait_for(listen(socket, speaker, turn_done, result, turns), 120)
            finally:
                microphone.cancel()
                await asyncio.gather(microphone, return_exceptions=True)
    except Exception as error:  # a refused or closed socket, a protocol error: counted
        result.errors.append(f"{type(error).__name__}: {error}")
    result.duration_s = time.monotonic() - started
    return result


async def listen(
    socket: ClientConnection,
    speaker: Speaker,
    turn_done: asyncio.Queue[None],
    result: SessionResult,
    turns: int,
) -> None:
    first_audio_at: float | None = None
    async for message in socket:
        # Audio deltas are most of the traffic: recognise them without parsing the JSON.
        if isinstance(message, bytes) or '"response.output_audio.delta"' in message[:120]:
            if first_audio_at is None and speaker.speech_end_at is not None:
                first_audio_at = time.monotonic()
                v2v = (first_audio_at - speaker.speech_end_at) * 1000
                result.turns.append(Turn(voice_to_voice_ms=v2v))
            continue
        event = json.loads(message)
        kind = event["type"]
        if kind == "error":
            result.errors.append(f"{event['error'].get('code')}: {event['error'].get('message')}")
        elif kind == "aura.turn.metrics" and result.turns:
            result.turns[-1].engine = event
        elif kind == "response.done":
            if event["response"]["status"] != "completed":
                result.errors.append(f"response {event['response']['status']}")
            first_audio_at = None
            speaker.speech_end_at = None
            turn_done.put_nowait(None)
            if len(result.turns) + len(result.errors) >= turns:
                return


async def drive(
    urls: list[str],
    key: str,
    utterance: bytes,
    *,
    sessions: int,
    turns: int,
    chunk_ms: int,
    ramp_s: float,
) -> list[SessionResult]:
    """All sessions, spread over the servers as a load balancer would (round robin)."""
    tasks = [
        run_session(
            urls[index % len(urls)],
            key,
            utterance,
            turns=turns,
            chunk_ms=chunk_ms,
            delay_s=ramp_s * index / sessions,
        )
        for index in range(sessions)
    ]
    return list(await asyncio.gather(*tasks))


def lone_voice_to_voice_ms(url: str, key: str, utterance: bytes, chunk_ms: int) -> list[float]:
    """Voice to voice of each turn of one session alone on the server (3 turns)."""
    alone = asyncio.run(run_session(url, key, utterance, turns=3, chunk_ms=chunk_ms, delay_s=0))
    if alone.errors or not alone.turns:
        raise SystemExit(f"a lone session failed: {alone.errors}")
    return [turn.voice_to_voice_ms for turn in alone.turns]
