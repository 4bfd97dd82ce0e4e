"""Language-model provider contract: streamed chat completions with tool calls."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

from voice.engine.config import ToolSpec

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, exactly as the model produced it


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    # Transport bookkeeping: the realtime item this message is, and whether the user cut it off.
    item_id: str | None = None
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class LLMRequest:
    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str = "auto"
    max_output_tokens: int | None = None
    temperature: float | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call; pieces with the same `index` belong to one call."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str  # "stop", "length", "tool_calls", ...
    usage: Usage = field(default_factory=Usage)


LLMChunk = TextDelta | ToolCallDelta | Finish


class LanguageModel(ABC):
    """One provider + model; the router composes several of these."""

    provider: str
    model: str

    @abstractmethod
    def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """Stream the answer; the last chunk is a `Finish` with usage.

        Raises `ProviderError` (retryable or not) on failure. Cancelling the consuming task
        must stop generation within 50 ms.
        """
