"""`manage.py voice_chat IN.wav [--out OUT.wav]`: one spoken turn through the whole pipeline.

No server and no database: the recording is streamed into an engine session in real time, as a
client would, and the transcript, the reply and where the time went are printed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from voice.engine.assembly import build_voice_session, warm_up
from voice.engine.audio.files import read_audio_file, write_wav
from voice.engine.audio.resample import resample
from voice.engine.config import AgentConfig, RouteConfig, TurnDetectionConfig
from voice.engine.errors import AuraError
from voice.engine.recording import TurnResult, run_turn

PROVIDER_MODELS = {"local": "gemma3-270m", "openai": "gpt-4o-mini", "grok": "grok-3-mini"}


class Command(BaseCommand):
    help = "Run one spoken turn from a recording through VAD, STT, LLM and TTS (no server, no DB)."
    # No database, no server: system checks would only slow the start down.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("recording", type=Path, help="WAV, FLAC or MP3")
        parser.add_argument("--out", type=Path, help="write the spoken reply here (WAV)")
        parser.add_argument(
            "--provider", choices=sorted(PROVIDER_MODELS), default="local", help="LLM provider"
        )
        parser.add_argument("--model", help="LLM model (default depends on the provider)")
        parser.add_argument("--instructions", default=AgentConfig().instructions)
        parser.add_argument("--fast", action="store_true", help="stream faster than real time")
        parser.add_argument(
            "--silence-ms",
            type=int,
            default=TurnDetectionConfig().silence_duration_ms,
            help="silence that ends the turn (raise it for recordings with long pauses)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            asyncio.run(self._run(options))
        except AuraError as error:
            raise CommandError(f"{error.code}: {error.message}") from error
        except TimeoutError as error:
            raise CommandError(
                "no answer within 120 s: is there speech in the recording, and does it end "
                "with a pause shorter than --silence-ms?"
            ) from error

    async def _run(self, options: dict[str, Any]) -> None:
        provider = options["provider"]
        config = dataclasses.replace(
            AgentConfig(),
            instructions=options["instructions"],
            turn_detection=TurnDetectionConfig(silence_duration_ms=options["silence_ms"]),
            llm_routes=(
                RouteConfig(provider=provider, model=options["model"] or PROVIDER_MODELS[provider]),
            ),
        )
        audio, rate_hz = read_audio_file(options["recording"])
        audio = resample(audio, rate_hz, config.input_format.sample_rate_hz)

        started = time.monotonic()
        await warm_up(config)
        seconds = len(audio) / config.input_format.sample_rate_hz
        self.stdout.write(
            f"models ready in {time.monotonic() - started:.1f} s; speaking {seconds:.1f} s…"
        )
        async with build_voice_session(config) as session:
            result = await run_turn(
                session, audio, config.input_format, realtime=not options["fast"]
            )
        self._report(result)
        if options["out"]:
            write_wav(options["out"], result.audio(), config.output_format.sample_rate_hz)
            self.stdout.write(f"reply audio written to {options['out']}")

    def _report(self, result: TurnResult) -> None:
        for error in result.errors:
            self.stderr.write(f"error: {error}")
        self.stdout.write(f"you said:   {result.transcript!r}")
        self.stdout.write(f"assistant:  {result.reply_text!r}  ({result.status})")
        metrics = result.metrics
        if metrics is None:
            return
        rows = [
            ("speech end → transcript (STT)", metrics.stt_ms),
            ("transcript → first LLM token", metrics.llm_first_token_ms),
            ("→ first clause", metrics.first_clause_ms),
            ("→ first audio (TTS)", metrics.tts_first_audio_ms),
            ("voice to voice", metrics.voice_to_voice_ms),
        ]
        for label, value in rows:
            shown = "—" if value is None else f"{value:7.0f} ms"
            self.stdout.write(f"  {label:<32} {shown}")
        self.stdout.write(
            f"  tokens in/out {metrics.input_tokens}/{metrics.output_tokens}, "
            f"route {metrics.llm_route}, speculative {'yes' if metrics.speculative else 'no'}"
        )
