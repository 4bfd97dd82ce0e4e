"""llama.cpp at the token level, for the embedded model: steering the answer's logits (banned
tokens, penalised first words, no repeated trigram) and decoding a prompt over the cached
prefix, cancellable between chunks."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from llama_cpp import Llama

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SteeringTokens:
    banned: npt.NDArray[np.intc]
    first_penalised: npt.NDArray[np.intc]
    words: TokenWords


class TokenWords:
    """Tokens as lower-case words and back, cached (a few dozen distinct tokens per answer)."""

    def __init__(self, llama: Llama) -> None:
        self._llama = llama
        self._words: dict[int, str] = {}
        self._tokens: dict[str, npt.NDArray[np.intc]] = {}

    def word(self, token: int) -> str:
        if token not in self._words:
            text = self._llama.detokenize([token]).decode("utf-8", errors="ignore")
            self._words[token] = text.strip().lower()
        return self._words[token]

    def tokens(self, word: str) -> npt.NDArray[np.intc]:
        """Every single token that reads as `word`: with or without a space, either case."""
        if word not in self._tokens:
            self._tokens[word] = single_token_ids(self._llama, (word,))
        return self._tokens[word]


class Steer:
    """Logits processor for the answer: banned tokens never; some first words less likely; no
    three words twice in a row (a base model's loop: "A good book is a good book.")."""

    def __init__(self, tokens: SteeringTokens, *, penalty: float, prompt_length: int) -> None:
        self._tokens = tokens
        self._penalty = penalty
        self._prompt_length = prompt_length

    def __call__(
        self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]
    ) -> npt.NDArray[np.single]:
        scores[self._tokens.banned] = -np.inf
        if len(input_ids) == self._prompt_length:
            scores[self._tokens.first_penalised] -= self._penalty
        answer = [self._tokens.words.word(t) for t in input_ids[self._prompt_length :].tolist()]
        for word in words_that_repeat_a_trigram(answer):
            scores[self._tokens.words.tokens(word)] = -np.inf
        return scores


def words_that_repeat_a_trigram(words: list[str]) -> set[str]:
    """Next words that would repeat, with the answer's last two words, a trigram of it."""
    if len(words) < 3 or not all(words[-2:]):
        return set()
    last_two = words[-2:]
    return {words[i + 2] for i in range(len(words) - 2) if words[i : i + 2] == last_two} - {""}


def single_token_ids(llama: Llama, words: tuple[str, ...]) -> npt.NDArray[np.intc]:
    """Token ids of each word as it can appear: alone or after a space, in either case."""
    ids = set()
    for word in words:
        for form in (word, word.capitalize()):
            for text in (form, " " + form):
                encoded = llama.tokenize(text.encode(), add_bos=False, special=False)
                if len(encoded) == 1:
                    ids.add(encoded[0])
    return np.array(sorted(ids), dtype=np.intc)


def prefill(llama: Llama, prompt_tokens: Sequence[int], cancelled: threading.Event) -> bool:
    """Decode the prompt, reusing the cached prefix; False if cancelled meanwhile.

    Reading ~1,000 new prompt tokens takes seconds here, so llama.cpp is given an abort
    callback that checks `cancelled` between graph nodes (measured: stops within ~25 ms). It is
    removed again before sampling: between tokens a plain check is enough, and each callback
    needs the GIL. Afterwards llama's `generate()` finds the whole prompt cached and samples.
    """
    import llama_cpp  # loaded already with the model; imported lazily like the model

    if len(prompt_tokens) >= llama.n_ctx():
        raise ValueError(f"prompt of {len(prompt_tokens)} tokens exceeds n_ctx {llama.n_ctx()}")
    cached = common_prefix_length(llama.input_ids[: llama.n_tokens].tolist(), prompt_tokens)
    # Re-decode at least the last token so the logits belong to this prompt; eval() first
    # drops whatever the KV cache holds past n_tokens.
    llama.n_tokens = min(cached, len(prompt_tokens) - 1)

    @llama_cpp.ggml_abort_callback  # type: ignore[untyped-decorator]  # llama_cpp is untyped
    def should_abort(_data: object) -> bool:
        return cancelled.is_set()

    llama_cpp.llama_set_abort_callback(llama.ctx, should_abort, None)
    try:
        llama.eval(prompt_tokens[llama.n_tokens :])
    except RuntimeError:
        if not cancelled.is_set():
            raise
        logger.debug("Prompt reading aborted after %d tokens", llama.n_tokens)
        return False
    finally:
        llama_cpp.llama_set_abort_callback(llama.ctx, llama_cpp.ggml_abort_callback(), None)
    return True


def common_prefix_length(cached: Sequence[int], tokens: Sequence[int]) -> int:
    length = 0
    for old, new in zip(cached, tokens, strict=False):
        if old != new:
            break
        length += 1
    return length


def end_token_ids(llama: Llama) -> frozenset[int]:
    """Token ids that end an answer: end of sequence and Gemma's turn markers."""
    ids = {llama.token_eos()}
    for marker in (b"<end_of_turn>", b"<start_of_turn>"):
        marker_ids = llama.tokenize(marker, add_bos=False, special=True)
        if len(marker_ids) == 1:
            ids.add(marker_ids[0])
    return frozenset(ids)
