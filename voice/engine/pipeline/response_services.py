"""What a response needs from its session, and how it reads its providers.

`ResponseServices` is the session's side of a `ResponseRun` (providers, tools, the request
builder, the output settings); `synthesize` and `answered_route` hide whether a stage is served
by one provider or by a router over several.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from voice.engine.config import AgentConfig
from voice.engine.events import Modality
from voice.engine.llm import base as llm
from voice.engine.pipeline.response_output import OutputSettings
from voice.engine.pipeline.tools import ToolRegistry
from voice.engine.routing import RoutedStream, TTSChunk, TTSRouter
from voice.engine.tts.base import TextToSpeech


@dataclass(frozen=True, slots=True)
class ResponseOptions:
    """Per-response overrides, after `response.create`'s parameters."""

    modalities: tuple[Modality, ...] = ("audio",)
    instructions: str | None = None
    max_output_tokens: int | None = None
    tool_choice: str | None = None

    @property
    def audio(self) -> bool:
        return "audio" in self.modalities


class StreamingModel(Protocol):
    """A `LanguageModel` or an `LLMRouter`."""

    def stream(self, request: llm.LLMRequest) -> AsyncIterator[llm.LLMChunk]: ...


Synthesizer = TextToSpeech | TTSRouter
RequestBuilder = Callable[[tuple[llm.ChatMessage, ...], ResponseOptions], Awaitable[llm.LLMRequest]]


@dataclass(frozen=True, slots=True)
class ResponseServices:
    """What a response needs from its session."""

    config: AgentConfig
    llm: StreamingModel
    tts: Synthesizer
    tools: ToolRegistry
    build_request: RequestBuilder
    output: OutputSettings


def answered_route(model: StreamingModel, stream: AsyncIterator[llm.LLMChunk]) -> str | None:
    """ "provider/model" that answered `stream`: a router's stream knows; a bare provider is
    its own route."""
    if isinstance(stream, RoutedStream):
        return stream.answered_label
    if isinstance(model, llm.LanguageModel):
        return f"{model.provider}/{model.model}"
    return None


async def synthesize(
    tts: Synthesizer, text: str, voice: str | None
) -> AsyncIterator[tuple[npt.NDArray[np.int16], int]]:
    """(samples, rate) from a provider or a router (whose rate depends on the route)."""
    if isinstance(tts, TTSRouter):
        chunk: TTSChunk
        async for chunk in tts.synthesize(text, voice=voice):
            yield chunk.samples, chunk.sample_rate_hz
        return
    async for samples in tts.synthesize(text, voice=voice):
        yield samples, tts.sample_rate_hz
