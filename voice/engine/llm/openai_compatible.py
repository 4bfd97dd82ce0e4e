"""Chat completions over OpenAI's protocol: OpenAI, xAI Grok, vLLM, Ollama, llama.cpp server."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Literal

from voice.engine.errors import InvalidRequestError, ProviderError
from voice.engine.llm.base import (
    ChatMessage,
    Finish,
    LanguageModel,
    LLMChunk,
    LLMRequest,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from voice.engine.net.openai_client import SDK_ERRORS, OpenAIEndpoint, provider_error

logger = logging.getLogger(__name__)

MaxTokensParameter = Literal["max_tokens", "max_completion_tokens"]


class OpenAICompatibleLLM(LanguageModel):
    """Streams chat completions from any server that speaks OpenAI's protocol.

    Args:
        endpoint: Where and how the server is called (provider label, model, key, URL);
            local servers accept any placeholder key.
        max_output_tokens: Default cap when the request gives none.
        temperature: Default temperature when the request gives none.
        max_tokens_parameter: OpenAI wants `max_completion_tokens`; most other servers only
            understand `max_tokens`.
    """

    def __init__(
        self,
        *,
        endpoint: OpenAIEndpoint,
        max_output_tokens: int | None = None,
        temperature: float | None = None,
        max_tokens_parameter: MaxTokensParameter = "max_tokens",
    ) -> None:
        self.endpoint = endpoint
        self.provider = endpoint.provider
        self.model = endpoint.model
        self.base_url = endpoint.base_url
        self._max_output_tokens = max_output_tokens
        self._temperature = temperature
        self._max_tokens_parameter = max_tokens_parameter

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """Stream the answer; see `LanguageModel.stream`.

        The HTTP stream is closed in `finally`, so cancelling the consumer (or closing this
        generator) drops the connection at once and the server stops generating.
        """
        parameters = self._parameters(request)
        client = self.endpoint.client()
        assembler = _ChunkAssembler(self.provider)
        # The SDK sends the request and raises its typed errors; the events are decoded here
        # because its pydantic chunk models cost ~0.2 ms of CPU each, which 200 sessions on
        # two cores cannot afford (json.loads: ~10 us).
        request_context = client.chat.completions.with_streaming_response.create(**parameters)
        try:
            async with request_context as response:
                async for payload in sse_payloads(response.iter_lines()):
                    if payload == "[DONE]":
                        break
                    for item in assembler.feed(json.loads(payload)):
                        yield item
        except SDK_ERRORS as error:
            raise provider_error(error, provider=self.provider) from error
        yield assembler.finish()

    def _parameters(self, request: LLMRequest) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "model": self.model,
            "messages": [openai_message(message) for message in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        max_tokens = request.max_output_tokens or self._max_output_tokens
        if max_tokens is not None:
            parameters[self._max_tokens_parameter] = max_tokens
        temperature = request.temperature
        if temperature is None:
            temperature = self._temperature
        if temperature is not None:
            parameters["temperature"] = temperature
        if request.tools:
            parameters["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                }
                for tool in request.tools
            ]
            parameters["tool_choice"] = openai_tool_choice(request.tool_choice)
        return parameters


async def sse_payloads(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The data of each server-sent event (multi-line data joined with newlines)."""
    data: list[str] = []
    async for line in lines:
        if line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
        elif not line and data:
            yield "\n".join(data)
            data.clear()
    if data:
        yield "\n".join(data)


def openai_message(message: ChatMessage) -> dict[str, Any]:
    """One engine message in OpenAI's chat format."""
    if message.role == "tool":
        if not message.tool_call_id:
            raise InvalidRequestError("a tool message needs the tool_call_id it answers")
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def _objects(value: object) -> list[dict[str, Any]]:
    """The dicts of a JSON list (a missing or malformed list holds none)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def openai_tool_choice(tool_choice: str) -> str | dict[str, Any]:
    """ "auto", "none" and "required" pass through; anything else names one function."""
    if tool_choice in ("auto", "none", "required"):
        return tool_choice
    return {"type": "function", "function": {"name": tool_choice}}


class _ChunkAssembler:
    """Turns decoded chunk events into engine chunks and checks the stream ended properly."""

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._finish_reason: str | None = None
        self._usage = Usage()
        self._tool_arguments: dict[int, list[str]] = {}
        self._tool_names: dict[int, str] = {}

    def feed(self, event: object) -> list[LLMChunk]:
        if not isinstance(event, dict):
            raise self._malformed(f"an event that is not an object: {str(event)[:80]}")
        if event.get("error"):
            raise ProviderError(
                f"{self._provider} reported an error mid-stream: {str(event['error'])[:200]}",
                provider=self._provider,
                retryable=True,
            )
        usage = event.get("usage")
        if isinstance(usage, dict):
            self._usage = Usage(
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
            )
        items: list[LLMChunk] = []
        for choice in _objects(event.get("choices")):
            delta = choice.get("delta")
            delta = delta if isinstance(delta, dict) else {}
            content = delta.get("content")
            if isinstance(content, str) and content:
                items.append(TextDelta(content))
            for call in _objects(delta.get("tool_calls")):
                items.append(self._tool_call_delta(call))
            if isinstance(choice.get("finish_reason"), str):
                self._finish_reason = choice["finish_reason"]
        return items

    def _tool_call_delta(self, call: dict[str, Any]) -> ToolCallDelta:
        index = call.get("index", 0)
        if not isinstance(index, int):
            raise self._malformed(f"a tool call index that is not a number: {index!r}")
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        name = function.get("name")
        arguments = function.get("arguments")
        arguments = arguments if isinstance(arguments, str) else ""
        call_id = call.get("id")
        self._tool_arguments.setdefault(index, []).append(arguments)
        if isinstance(name, str) and name:
            self._tool_names[index] = name
        return ToolCallDelta(
            index,
            id=call_id if isinstance(call_id, str) else None,
            name=name if isinstance(name, str) and name else None,
            arguments=arguments,
        )

    def _malformed(self, what: str) -> ProviderError:
        return ProviderError(
            f"{self._provider} sent {what}",
            provider=self._provider,
            retryable=True,
            code="invalid_provider_response",
        )

    def finish(self) -> Finish:
        if self._finish_reason is None:
            raise ProviderError(
                f"{self._provider} ended the stream before the answer was finished",
                provider=self._provider,
                retryable=True,
                code="incomplete_stream",
            )
        self._check_tool_arguments()
        return Finish(self._finish_reason, self._usage)

    def _check_tool_arguments(self) -> None:
        for index, pieces in self._tool_arguments.items():
            name = self._tool_names.get(index, f"#{index}")
            arguments = "".join(pieces)
            try:
                parsed = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as error:
                raise ProviderError(
                    f"{self._provider} called tool {name} with arguments that are not JSON: "
                    f"{error.msg} at character {error.pos}",
                    provider=self._provider,
                    retryable=False,
                    code="invalid_tool_arguments",
                ) from error
            if not isinstance(parsed, dict):
                raise ProviderError(
                    f"{self._provider} called tool {name} with arguments that are not a JSON "
                    "object",
                    provider=self._provider,
                    retryable=False,
                    code="invalid_tool_arguments",
                )
