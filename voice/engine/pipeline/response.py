"""One response: LLM rounds (with tool calls) → clauses → TTS → paced output events.

Three stages joined by queues, so that each works ahead of the next: the LLM streams clauses
while the TTS synthesises clause n+1 and the playout stage paces clause n to the client. A
response may be *speculative*: it is computed during the user's end-of-turn silence and emits
nothing (and has no side effects such as tool calls) until `release()`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from voice.engine.errors import AuraError
from voice.engine.events import (
    ResponseCreated,
    ResponseDone,
    ResponseReason,
    ResponseStatus,
    SessionError,
    SessionEvent,
    Usage,
    new_id,
)
from voice.engine.llm import base as llm
from voice.engine.observability.turn_metrics import TurnTimeline
from voice.engine.pipeline import conversation as items
from voice.engine.pipeline.chunker import ClauseChunker
from voice.engine.pipeline.conversation import Entry
from voice.engine.pipeline.response_output import Interruption, MessageOutput, ResponseOutput
from voice.engine.pipeline.response_services import (
    ResponseOptions,
    ResponseServices,
    answered_route,
    synthesize,
)

logger = logging.getLogger(__name__)

# A model that keeps calling tools is stopped after this many rounds.
MAX_TOOL_ROUNDS = 4
# TTS chunks buffered ahead of playout; bounds memory when the client reads slowly.
MAX_BUFFERED_CHUNKS = 16
END_CONVERSATION_TOOL = "end_conversation"


# --- messages between the stages ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Clause:
    text: str


@dataclass(frozen=True, slots=True)
class _ClauseAudio:
    pcm: npt.NDArray[np.int16]
    rate_hz: int


@dataclass(frozen=True, slots=True)
class _ClauseEnd:
    pass


@dataclass(frozen=True, slots=True)
class _CallItem:
    entry: Entry


@dataclass(frozen=True, slots=True)
class _CallOutput:
    entry: Entry


@dataclass(frozen=True, slots=True)
class _End:
    pass


_StageItem = _Clause | _ClauseAudio | _ClauseEnd | _CallItem | _CallOutput | _End


@dataclass(slots=True)
class _ToolCallBuilder:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def build(self) -> llm.ToolCall:
        return llm.ToolCall(
            id=self.id or new_id("call"), name=self.name, arguments="".join(self.arguments)
        )


class ResponseRun:
    """Generates, speaks and reports one response; the session owns the task running it."""

    def __init__(
        self,
        services: ResponseServices,
        *,
        messages: tuple[llm.ChatMessage, ...],
        options: ResponseOptions,
        timeline: TurnTimeline,
        speculative: bool = False,
        script: tuple[str, ...] | None = None,
    ) -> None:
        """Prepare a response.

        Args:
            services: the session's providers, conversation and event queue.
            messages: the conversation the answer is for (for a speculative response, the
                history plus the user's not yet committed message).
            options: per-response overrides.
            timeline: the turn's latency milestones, filled in as they happen.
            speculative: hold every event and side effect until `release()`.
            script: speak these clauses instead of asking the LLM (resuming an answer).
        """
        self.id = new_id("resp")
        self.options = options
        self.timeline = timeline
        self.usage = Usage()
        self.output = ResponseOutput(
            self.id, options.modalities, services.output, on_first_audio=self._first_audio_sent
        )
        self.ends_conversation = False
        self.finished = False
        self._services = services
        self._messages = messages
        self._script = script
        self._released = asyncio.Event()
        if not speculative:
            self._released.set()
        self._created = False
        self._finish_reason = "stop"
        self._clauses: asyncio.Queue[_StageItem] = asyncio.Queue()
        self._playout: asyncio.Queue[_StageItem] = asyncio.Queue(MAX_BUFFERED_CHUNKS)

    @property
    def released(self) -> bool:
        return self._released.is_set()

    def release(self) -> None:
        """The turn really ended: let a speculative response speak."""
        self._released.set()

    async def run(self) -> ResponseDone:
        """Run to completion (or failure); cancellation is handled by `finish_cancelled`."""
        failure: AuraError | None = None
        try:
            async with asyncio.TaskGroup() as stages:
                stages.create_task(self._produce())
                stages.create_task(self._synthesize())
                stages.create_task(self._play())
        except* AuraError as group:
            failure = _first_aura_error(group)
        except* Exception as group:
            logger.error("response %s crashed", self.id, exc_info=group.exceptions[0])
            failure = AuraError("internal error while responding")
        if failure is not None:
            return await self._finish_failed(failure)
        return await self._finish_completed()

    # --- stage 1: the LLM, and tools between rounds ----------------------------------------

    async def _produce(self) -> None:
        if self._script is not None:
            for clause in self._script:
                await self._clauses.put(_Clause(clause))
            await self._clauses.put(_End())
            return
        messages = list(self._messages)
        said_something = False
        for _ in range(MAX_TOOL_ROUNDS + 1):
            request = await self._services.build_request(tuple(messages), self.options)
            text, calls = await self._stream_round(request)
            said_something = said_something or bool(text)
            messages.append(llm.ChatMessage(role="assistant", content=text, tool_calls=calls))
            if not calls:
                break
            messages.extend(await self._call_tools(calls))
            if self._has_client_calls(calls):
                # The client answers with function_call_output, then response.create.
                break
            if self.ends_conversation and said_something:
                # The goodbye was said; otherwise one more round lets the model say it.
                break
        await self._clauses.put(_End())

    async def _stream_round(self, request: llm.LLMRequest) -> tuple[str, tuple[llm.ToolCall, ...]]:
        clock = self._services.output.clock
        self.timeline.mark_once("llm_started_at", clock.monotonic())
        chunker = ClauseChunker()
        text_parts: list[str] = []
        calls: dict[int, _ToolCallBuilder] = {}
        stream = self._services.llm.stream(request)
        async for chunk in stream:
            if isinstance(chunk, llm.TextDelta):
                self.timeline.mark_once("first_token_at", clock.monotonic())
                text_parts.append(chunk.text)
                for clause in chunker.push(chunk.text):
                    await self._clause_ready(clause)
            elif isinstance(chunk, llm.ToolCallDelta):
                self.timeline.mark_once("first_token_at", clock.monotonic())
                _add_tool_call_delta(calls.setdefault(chunk.index, _ToolCallBuilder()), chunk)
            else:
                self._finish_reason = chunk.reason
                self.usage = Usage(
                    self.usage.input_tokens + chunk.usage.prompt_tokens,
                    self.usage.output_tokens + chunk.usage.completion_tokens,
                )
        for clause in chunker.flush():
            await self._clause_ready(clause)
        self.timeline.llm_route = answered_route(self._services.llm, stream)
        built = tuple(calls[index].build() for index in sorted(calls))
        for call in built:
            entry = items.function_call(call_id=call.id, name=call.name, arguments=call.arguments)
            await self._clauses.put(_CallItem(entry))
        return "".join(text_parts).strip(), built

    async def _clause_ready(self, clause: str) -> None:
        if clause.strip():
            self.timeline.mark_once("first_clause_at", self._services.output.clock.monotonic())
            await self._clauses.put(_Clause(clause))

    async def _call_tools(self, calls: tuple[llm.ToolCall, ...]) -> list[llm.ChatMessage]:
        # Tools act on the world: a speculative turn may still be abandoned.
        await self._released.wait()
        tools = self._services.tools
        server_calls = [call for call in calls if not tools.is_client_tool(call.name)]
        if not server_calls:
            return []
        results = await tools.execute_many(server_calls)
        messages = []
        for call, result in zip(server_calls, results, strict=True):
            output = result.output
            entry = items.function_call_output(call_id=call.id, output=output)
            await self._clauses.put(_CallOutput(entry))
            messages.append(llm.ChatMessage(role="tool", content=output, tool_call_id=call.id))
            if call.name == END_CONVERSATION_TOOL:
                self.ends_conversation = True
        return messages

    def _has_client_calls(self, calls: tuple[llm.ToolCall, ...]) -> bool:
        return any(self._services.tools.is_client_tool(call.name) for call in calls)

    # --- stage 2: TTS ---------------------------------------------------------------------

    async def _synthesize(self) -> None:
        services = self._services
        clock = services.output.clock
        while True:
            item = await self._clauses.get()
            await self._playout.put(item)
            if isinstance(item, _End):
                return
            if not (isinstance(item, _Clause) and self.options.audio):
                continue
            self.timeline.mark_once("tts_started_at", clock.monotonic())
            async for pcm, rate_hz in synthesize(services.tts, item.text, services.config.voice):
                self.timeline.mark_once("tts_first_audio_at", clock.monotonic())
                await self._playout.put(_ClauseAudio(pcm, rate_hz))
            await self._playout.put(_ClauseEnd())

    # --- stage 3: paced playout, and every event of the response ---------------------------

    async def _play(self) -> None:
        await self._open()
        output = self.output
        while True:
            item = await self._playout.get()
            if isinstance(item, _Clause):
                await output.clause_started(item.text)
            elif isinstance(item, _ClauseAudio):
                await output.audio_chunk(item.pcm, item.rate_hz)
            elif isinstance(item, _ClauseEnd):
                output.clause_ended()
            elif isinstance(item, _CallItem):
                await output.function_call(item.entry)
            elif isinstance(item, _CallOutput):
                await output.call_output(item.entry)
            else:
                await output.close_message(completed=True)
                return

    async def _open(self) -> None:
        await self._released.wait()
        if not self._created:
            self._created = True
            await self._emit(ResponseCreated(self.id, self.options.modalities))

    def _first_audio_sent(self) -> None:
        self.timeline.mark_once("first_audio_out_at", self._services.output.clock.monotonic())

    async def _emit(self, event: SessionEvent) -> None:
        await self._services.output.events.put(event)

    # --- endings --------------------------------------------------------------------------

    async def _finish_completed(self) -> ResponseDone:
        if self._finish_reason == "length":
            return await self._done("incomplete", reason="max_output_tokens")
        return await self._done("completed")

    async def _finish_failed(self, error: AuraError) -> ResponseDone:
        logger.warning("response %s failed: %s (%s)", self.id, error.message, error.code)
        # A speculative response that failed still reports, once the turn is confirmed.
        await self._open()
        await self.output.close_message(completed=False)
        await self._emit(SessionError(error))
        return await self._done("failed", error=error)

    def stop_output(self) -> Interruption:
        """Barge-in, part one: withdraw unsent frames and cut the answer to what was heard.

        Call right after cancelling the task running `run()`, before awaiting it.
        """
        return self.output.cut(self._pending_clauses())

    def _pending_clauses(self) -> list[str]:
        # The stages are cancelled: what they had queued will never be spoken unless resumed.
        pending: list[str] = []
        for queue in (self._playout, self._clauses):
            while not queue.empty():
                item = queue.get_nowait()
                if isinstance(item, _Clause):
                    pending.append(item.text.strip())
        return pending

    async def finish_cancelled(self, reason: ResponseReason) -> ResponseDone:
        """Barge-in or client cancel, part two: report the cut answer and the cancellation."""
        if self._created:
            await self.output.close_message(completed=False)
        return await self._done("cancelled", reason=reason)

    async def _done(
        self,
        status: ResponseStatus,
        *,
        reason: ResponseReason | None = None,
        error: AuraError | None = None,
    ) -> ResponseDone:
        self.finished = True
        done = ResponseDone(
            self.id,
            status,
            output=tuple(entry.snapshot() for entry in self.output.items),
            usage=self.usage,
            reason=reason,
            error=error,
        )
        if self._created:
            await self._emit(done)
        return done

    @property
    def message(self) -> MessageOutput | None:
        return self.output.message

    @property
    def audio_out_s(self) -> float:
        return self.output.audio_out_ms / 1000


def _first_aura_error(group: BaseExceptionGroup[AuraError]) -> AuraError:
    first = group.exceptions[0]
    return first if isinstance(first, AuraError) else _first_aura_error(first)


def _add_tool_call_delta(builder: _ToolCallBuilder, delta: llm.ToolCallDelta) -> None:
    if delta.id:
        builder.id = delta.id
    if delta.name:
        builder.name = delta.name
    builder.arguments.append(delta.arguments)
