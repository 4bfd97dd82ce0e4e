"""The embedded offline language model: Gemma 3 270M through llama.cpp, in process.

Generation runs in the compute pool and hands each piece of text to the event loop with
`call_soon_threadsafe`. One generation runs at a time per model (llama.cpp contexts are not
thread-safe). Cancelling the consuming task sets a flag that the generating thread checks
between tokens and between small prompt chunks, so it stops within one token's time (~25 ms
here) and the model is free again for the next turn.

The model is a base model: it cannot call tools. `LLMRequest.tools` and `tool_choice` are
ignored and the answer is always plain text (see `gemma_prompt`).
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from voice.engine.compute import compute_threads, executor
from voice.engine.errors import ProviderError, ProviderUnavailableError
from voice.engine.llm.base import Finish, LanguageModel, LLMChunk, LLMRequest, TextDelta, Usage
from voice.engine.llm.gemma_output import SpokenAnswer
from voice.engine.llm.gemma_prompt import GemmaPrompt, PromptStyle, build_gemma_prompt
from voice.engine.llm.llama_tokens import (
    Steer,
    SteeringTokens,
    TokenWords,
    end_token_ids,
    prefill,
    single_token_ids,
)
from voice.engine.llm.native_logs import route_native_logs
from voice.engine.local_models import gemma_gguf_path

if TYPE_CHECKING:
    from llama_cpp import Llama

logger = logging.getLogger(__name__)

PROVIDER = "local"
MODEL = "gemma3-270m"

# Few-shot header and persona (~440 tokens) + several voice turns + the answer fit comfortably.
DEFAULT_N_CTX = 2_048
DEFAULT_MAX_OUTPUT_TOKENS = 64
DEFAULT_MAX_SENTENCES = 2
DEFAULT_SEED = 1_234
# Tokenization of the rendered prompt can differ by a few tokens from the sum of its lines.
PROMPT_TOKEN_MARGIN = 16


@dataclass(frozen=True, slots=True)
class Sampling:
    """Sampling settings tuned on the fixed quality question set (near greedy, deterministic)."""

    temperature: float = 0.0
    top_k: int = 40
    top_p: float = 0.9
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    # Words the model may never write. While tuning on the quality set, 4 of its 23 answers
    # opened with "I'm sorry, but ..." (to a joke request, to JFK's words) and said nothing.
    banned_words: tuple[str, ...] = ("sorry", "apologize", "apologise", "unfortunately")
    # Taken off the logit of "I" as the answer's first word: the persona answers about the
    # topic, not itself. While tuning, canned replies ("I'm not sure.", "I'm a voice
    # assistant.") fell from 3 of 23 to none with it; an answer that must start with "I" still
    # can ("I recommend ...").
    first_word_penalty: float = 3.0
    first_word_penalised: tuple[str, ...] = ("I",)


@dataclass(slots=True)
class _Generation:
    """One request's blocking half: what the worker thread needs and reports back."""

    prompt: GemmaPrompt
    max_output_tokens: int
    temperature: float
    emit: Callable[[TextDelta | None], None]
    cancelled: threading.Event


class LlamaCppLLM(LanguageModel):
    """Gemma 3 270M (Q4_K_M GGUF) run in process by llama.cpp.

    Args:
        model_path: GGUF file; default `local_models.gemma_gguf_path()`.
        n_ctx: Context size in tokens; prompts are budgeted to fit with the answer.
        n_threads: Threads per generation; default `compute_threads()`.
        sampling: Sampling settings; a request's `temperature` overrides the temperature.
        seed: Sampling seed, fixed so that the same prompt gives the same answer.
        prompt_style: `"transcript"` for the base model, `"turns"` for an `-it` GGUF.
        max_sentences: Answers are cut after this many sentences (voice answers are short).
    """

    provider = PROVIDER
    model = MODEL

    _shared: ClassVar[LlamaCppLLM | None] = None
    _shared_guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        sampling: Sampling = Sampling(),
        seed: int = DEFAULT_SEED,
        prompt_style: PromptStyle = "transcript",
        max_sentences: int = DEFAULT_MAX_SENTENCES,
    ) -> None:
        self._model_path = model_path
        self.n_ctx = n_ctx
        self._n_threads = n_threads
        self.sampling = sampling
        self._seed = seed
        self.prompt_style: PromptStyle = prompt_style
        self.max_sentences = max_sentences
        self._llama: Llama | None = None
        self._steering: SteeringTokens | None = None
        # The threading lock is the hard guarantee (one thread in the llama context); the
        # asyncio lock queues turns on the loop instead of parking compute-pool threads.
        self._model_lock = threading.Lock()
        self._turn_lock = asyncio.Lock()

    @classmethod
    def shared(cls) -> LlamaCppLLM:
        """The process-wide instance; the model itself loads on first use (or `load()`)."""
        with cls._shared_guard:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    async def load(self) -> None:
        """Load the model and read the default persona's prompt, so the first turn is fast."""
        await asyncio.get_running_loop().run_in_executor(executor(), self._warm_up)

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes in a prompt of this model's style (blocking; model must load)."""
        special = self.prompt_style == "turns"
        return len(self._loaded().tokenize(text.encode(), add_bos=False, special=special))

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """Stream a short spoken answer to the request's messages; see `LanguageModel.stream`."""
        loop = asyncio.get_running_loop()
        deltas: asyncio.Queue[TextDelta | None] = asyncio.Queue()
        cancelled = threading.Event()

        def emit(delta: TextDelta | None) -> None:
            try:
                loop.call_soon_threadsafe(deltas.put_nowait, delta)
            except RuntimeError:
                # The loop is closed: nobody is listening, so stop generating.
                logger.warning("Event loop closed during generation; stopping it")
                cancelled.set()

        async with self._turn_lock:
            job = loop.run_in_executor(executor(), self._run, request, emit, cancelled)
            try:
                while (delta := await deltas.get()) is not None:
                    yield delta
                finish = await job
            finally:
                cancelled.set()
                # Only release the turn once the thread has really left the model.
                await asyncio.wait([job])
        # Outside the lock: a consumer that stops at the Finish must not hold up the next turn.
        yield finish

    def _steering_tokens(self, llama: Llama) -> SteeringTokens:
        if self._steering is None:
            self._steering = SteeringTokens(
                banned=single_token_ids(llama, self.sampling.banned_words),
                first_penalised=single_token_ids(llama, self.sampling.first_word_penalised),
                words=TokenWords(llama),
            )
        return self._steering

    def _loaded(self) -> Llama:
        with self._model_lock:
            if self._llama is None:
                self._llama = self._load_blocking()
            return self._llama

    def _warm_up(self) -> None:
        """Decode the header shared by every turn of the default persona into the KV cache."""
        llama = self._loaded()
        with self._model_lock:
            empty = self._prepare(llama, LLMRequest(messages=()), _ignore, threading.Event())
            tokens = llama.tokenize(
                empty.prompt.text.encode(), add_bos=True, special=empty.prompt.parse_special
            )
            prefill(llama, tokens, threading.Event())

    def _load_blocking(self) -> Llama:
        try:
            from llama_cpp import Llama
        except ImportError as error:
            raise ProviderUnavailableError(
                "llama-cpp-python is not installed (pip install llama-cpp-python)",
                provider=PROVIDER,
                retryable=False,
            ) from error
        route_native_logs()
        path = self._model_path or gemma_gguf_path()
        threads = self._n_threads or compute_threads()
        started = time.perf_counter()
        try:
            llama = Llama(
                model_path=str(path),
                n_ctx=self.n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                seed=self._seed,
                # Gemma 3 uses sliding-window attention; a full-size window cache lets the
                # unchanged prompt prefix (persona, few shots, history) be reused across turns.
                swa_full=True,
                verbose=False,
            )
        except ValueError as error:
            raise ProviderUnavailableError(
                f"llama.cpp could not load {path}: {error}", provider=PROVIDER, retryable=False
            ) from error
        logger.info(
            "Loaded %s from %s in %.2f s (%d threads, n_ctx %d)",
            MODEL,
            path,
            time.perf_counter() - started,
            threads,
            self.n_ctx,
        )
        return llama

    def _run(
        self,
        request: LLMRequest,
        emit: Callable[[TextDelta | None], None],
        cancelled: threading.Event,
    ) -> Finish:
        """Worker thread: build the prompt, generate, always end the stream with None."""
        try:
            llama = self._loaded()
            with self._model_lock:
                generation = self._prepare(llama, request, emit, cancelled)
                return self._generate(llama, generation)
        except (RuntimeError, ValueError, OSError) as error:
            raise ProviderError(
                f"llama.cpp generation failed: {error}", provider=PROVIDER, retryable=True
            ) from error
        finally:
            emit(None)

    def _prepare(
        self,
        llama: Llama,
        request: LLMRequest,
        emit: Callable[[TextDelta | None], None],
        cancelled: threading.Event,
    ) -> _Generation:
        if request.tools:
            logger.debug("%s ignores %d tools: it cannot call them", MODEL, len(request.tools))
        max_output_tokens = min(
            request.max_output_tokens or DEFAULT_MAX_OUTPUT_TOKENS, self.n_ctx // 4
        )
        special = self.prompt_style == "turns"
        prompt = build_gemma_prompt(
            request.messages,
            count_tokens=lambda text: len(
                llama.tokenize(text.encode(), add_bos=False, special=special)
            ),
            max_prompt_tokens=self.n_ctx - max_output_tokens - PROMPT_TOKEN_MARGIN,
            style=self.prompt_style,
        )
        if prompt.dropped_messages:
            logger.info("Dropped %d oldest messages to fit n_ctx", prompt.dropped_messages)
        temperature = (
            request.temperature if request.temperature is not None else self.sampling.temperature
        )
        return _Generation(prompt, max_output_tokens, temperature, emit, cancelled)

    def _generate(self, llama: Llama, generation: _Generation) -> Finish:
        prompt_tokens = llama.tokenize(
            generation.prompt.text.encode(), add_bos=True, special=generation.prompt.parse_special
        )
        if not prefill(llama, prompt_tokens, generation.cancelled):
            return Finish("cancelled", Usage(prompt_tokens=len(prompt_tokens)))
        answer = SpokenAnswer(
            stop=generation.prompt.stop,
            max_sentences=self.max_sentences,
            leading_labels=generation.prompt.leading_labels,
        )
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        end_tokens = end_token_ids(llama)
        completion_tokens = 0
        reason = "length"
        for token in self._sampled_tokens(llama, prompt_tokens, generation.temperature):
            if generation.cancelled.is_set():
                reason = "cancelled"
                break
            completion_tokens += 1
            if token in end_tokens:
                reason = "stop"
                break
            text = answer.feed(decoder.decode(llama.detokenize([token])))
            if text:
                generation.emit(TextDelta(text))
            if answer.done:
                reason = "stop"
                break
            if completion_tokens >= generation.max_output_tokens:
                break
        if tail := answer.finish():
            generation.emit(TextDelta(tail))
        usage = Usage(prompt_tokens=len(prompt_tokens), completion_tokens=completion_tokens)
        return Finish(reason, usage)

    def _sampled_tokens(
        self, llama: Llama, prompt_tokens: Sequence[int], temperature: float
    ) -> Iterator[int]:
        """Tokens sampled after the (already decoded) prompt; closes llama's generator."""
        from llama_cpp import LogitsProcessorList

        steer = Steer(
            self._steering_tokens(llama),
            penalty=self.sampling.first_word_penalty,
            prompt_length=len(prompt_tokens),
        )
        tokens = llama.generate(
            prompt_tokens,
            temp=temperature,
            top_k=self.sampling.top_k,
            top_p=self.sampling.top_p,
            min_p=self.sampling.min_p,
            repeat_penalty=self.sampling.repeat_penalty,
            logits_processor=LogitsProcessorList([steer]),
        )
        try:
            yield from tokens
        finally:
            tokens.close()


def _ignore(delta: TextDelta | None) -> None:
    """Emit target for work whose output nobody reads."""
