"""Putting a `VoiceSession` together from an `AgentConfig`: the one place transports (the
WebSocket consumer, the CLI, the benchmark) and background jobs get their providers from.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from voice.engine.config import AgentConfig, RouteConfig
from voice.engine.pipeline.session import VoiceSession
from voice.engine.pipeline.tools import ToolRegistry
from voice.engine.ports import (
    AudioSampler,
    MemorySource,
    MetricsSink,
    ResponseGate,
    ToolExecutor,
    TranscriptSink,
)
from voice.engine.routing import LLMRouter
from voice.engine.routing.breaker import process_breakers


def build_voice_session(
    config: AgentConfig,
    *,
    memory: MemorySource | None = None,
    transcript_sink: TranscriptSink | None = None,
    metrics: MetricsSink | None = None,
    tool_executor: ToolExecutor | None = None,
    response_gate: ResponseGate | None = None,
    audio_sampler: AudioSampler | None = None,
    client_cancels_echo: bool = False,
) -> VoiceSession:
    """A session over the config's routes (routers report their decisions as events).

    With `metrics`, the process's circuit breakers report their state changes there too.
    """
    if metrics is not None:
        process_breakers().report_to(metrics)
    return VoiceSession(
        config,
        tools=ToolRegistry(config.tools, executor=tool_executor),
        memory=memory,
        transcript_sink=transcript_sink,
        metrics=metrics,
        response_gate=response_gate,
        audio_sampler=audio_sampler,
        client_cancels_echo=client_cancels_echo,
    )


def build_llm(routes: Sequence[RouteConfig]) -> LLMRouter:
    """A language model over `routes` for work outside a session (summaries)."""
    return LLMRouter(tuple(routes))


async def warm_up(config: AgentConfig) -> None:
    """Load and exercise the local models the config routes to, so no turn pays for it.

    Cloud routes need nothing; a local model is loaded once per process and shared.
    """
    if _uses_local(config.stt_routes):
        from voice.engine.stt.local_whisper import LocalWhisperSTT

        stt = await LocalWhisperSTT.load_shared()
        await stt.warm_up()
    if _uses_local(config.tts_routes):
        from voice.engine.tts.piper import PiperTTS

        tts = await PiperTTS.load_shared()
        await tts.warm_up()
    if _uses_local(config.llm_routes):
        from voice.engine.llm.llama_cpp import LlamaCppLLM

        await LlamaCppLLM.shared().load()


_warmed_up = threading.Event()


def warmed_up() -> bool:
    """Whether `warm_up_in_thread` has loaded the local models in this process."""
    return _warmed_up.is_set()


def warm_up_in_thread(config: AgentConfig | None = None) -> None:
    """`warm_up` from synchronous start-up code (an ASGI module), blocking until done.

    It runs on its own event loop in its own thread, so that the server's loop (which may
    already be set for this thread, as daphne's is) is neither used nor replaced.
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(warm_up(config or AgentConfig()))
        except BaseException as error:  # re-raised in the calling thread
            failure.append(error)

    thread = threading.Thread(target=run, name="aura-warm-up")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    _warmed_up.set()


def _uses_local(routes: Sequence[RouteConfig]) -> bool:
    return any(route.provider == "local" for route in routes)
