"""The simulator's audio endpoints: transcriptions and streamed PCM speech."""

from __future__ import annotations

import asyncio
import io
import math
import wave

import numpy as np
from aiohttp import web

from bench.simulator_base import (
    Directives,
    RequestRecord,
    SimulatorBase,
    error_body,
    parse_directives,
)

SPEECH_RATE_HZ = 24_000
SPEECH_MS_PER_CHARACTER = 40
# Deliberately odd, so clients must handle samples split across network chunks.
SPEECH_CHUNK_BYTES = 4_801


class AudioEndpoints(SimulatorBase):
    """POST /v1/audio/transcriptions and /v1/audio/speech."""

    async def transcriptions(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        model = str(form.get("model", ""))
        record = self._record(request, model, stream=False)
        directives = parse_directives(model)
        failure = self._planned_failure(model, directives)
        await self._first_token_delay(directives)
        if failure is not None:
            return self._error_response(record, failure)
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            self._finish(record, "failed", 400)
            return web.json_response(
                error_body("file is required", error_type="invalid_request_error"), status=400
            )
        try:
            with wave.open(io.BytesIO(upload.file.read()), "rb") as audio:
                duration_s = audio.getnframes() / audio.getframerate()
                record.detail.update(
                    sample_rate_hz=audio.getframerate(),
                    channels=audio.getnchannels(),
                    sample_width=audio.getsampwidth(),
                )
        except (wave.Error, EOFError) as error:
            self._finish(record, "failed", 400)
            return web.json_response(
                error_body(f"invalid audio file: {error}", error_type="invalid_request_error"),
                status=400,
            )
        record.detail["language"] = form.get("language")
        record.detail["prompt"] = form.get("prompt")
        record.detail["duration_s"] = duration_s
        self.transcribed_audio_s += duration_s
        self._finish(record, "completed")
        text = directives.say if directives.say is not None else self.settings.transcript
        return web.json_response(
            {"text": text, "usage": {"type": "duration", "seconds": math.ceil(duration_s)}}
        )

    async def speech(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model = str(body.get("model", ""))
        record = self._record(request, model, stream=True)
        directives = parse_directives(model)
        failure = self._planned_failure(model, directives)
        try:
            await self._first_token_delay(directives)
            if failure is not None:
                return self._error_response(record, failure)
            if body.get("response_format") != "pcm" or not str(body.get("input", "")).strip():
                self._finish(record, "failed", 400)
                return web.json_response(
                    error_body(
                        "the simulator needs response_format=pcm and a non-empty input",
                        error_type="invalid_request_error",
                    ),
                    status=400,
                )
            return await self._stream_speech(request, record, str(body["input"]), directives)
        except asyncio.CancelledError:
            self._finish(record, "client_closed")
            raise

    async def _stream_speech(
        self, request: web.Request, record: RequestRecord, text: str, directives: Directives
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "audio/pcm"})
        await response.prepare(request)
        audio = tone_pcm16(len(text) * SPEECH_MS_PER_CHARACTER)
        record.detail["audio_bytes"] = len(audio)
        chunks = list(byte_chunks(audio, SPEECH_CHUNK_BYTES))
        if directives.stop_halfway:
            chunks = chunks[: len(chunks) // 2]
        try:
            for position, chunk in enumerate(chunks):
                if position:
                    await self._inter_token_delay(directives)
                await response.write(chunk)
                record.tokens_sent += 1
            if directives.stop_halfway:
                # Drop the connection without the chunked terminator: a broken stream.
                if request.transport is not None:
                    request.transport.close()
                self._finish(record, "server_closed")
                return response
            await response.write_eof()
            self._finish(record, "completed")
        except ConnectionResetError:
            self._finish(record, "client_closed")
        return response


def tone_pcm16(duration_ms: int, *, frequency_hz: float = 440.0) -> bytes:
    """A quiet sine tone as 24 kHz PCM16 little-endian bytes."""
    samples = SPEECH_RATE_HZ * duration_ms // 1000
    phase = 2 * np.pi * frequency_hz * np.arange(samples) / SPEECH_RATE_HZ
    return (np.sin(phase) * 6_000).astype("<i2").tobytes()


def byte_chunks(data: bytes, size: int) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]
