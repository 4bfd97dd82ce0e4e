"""The port through which conversations get a summary written, without importing voice.

Writing a summary needs a model, and the models are voice's: the voice app registers the
summarizer in its AppConfig.ready(); `conversation_summarize` calls it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Summarizer(Protocol):
    def __call__(self, *, agent: Any, previous: str, messages: Sequence[tuple[str, str]]) -> str:
        """A summary of `previous` (the summary so far) followed by `messages` ((role, text)
        pairs, user and assistant only), written with `agent`'s model (None: the default)."""
        ...


_summarizer: Summarizer | None = None


def summarizer_register(summarizer: Summarizer) -> None:
    global _summarizer
    _summarizer = summarizer


def summarizer() -> Summarizer:
    if _summarizer is None:
        raise RuntimeError("no summarizer registered (the voice app registers one when ready)")
    return _summarizer
