"""Shapes the small local model's streamed text into a short spoken answer.

A base model does not know when to stop: it goes on to write the user's next line, a second
paragraph, or the same sentence again. `SpokenAnswer` cuts the stream at the first stop string or
after a number of sentences, and holds back only the few characters that might be the start of a
stop string, so text still streams token by token. It also drops the speaker's label when the
model writes it again at the start of its answer ("A: A: ...").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# A sentence ends at ., ! or ? followed by whitespace (so "3.5" and "e.g" mid-word do not count).
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s)")
_SPACES = re.compile(r"[ \t]+")


class SpokenAnswer:
    """Incrementally cuts a streamed answer at stop strings and a sentence cap."""

    def __init__(
        self, *, stop: Sequence[str], max_sentences: int, leading_labels: Sequence[str] = ()
    ) -> None:
        self._stop = tuple(s for s in stop if s)
        self._max_sentences = max_sentences
        self._leading_labels = tuple(label for label in leading_labels if label)
        self._pending = ""
        self._emitted = ""
        self.done = False

    @property
    def text(self) -> str:
        """Everything emitted so far."""
        return self._emitted

    def feed(self, piece: str) -> str:
        """Add generated text; return the part that is now safe to speak ("" if none)."""
        if self.done:
            return ""
        self._pending += piece
        if not self._emitted:
            # Leading blank lines would otherwise hit the "\n" stop before any word.
            self._pending = self._pending.lstrip()
            if self._may_still_be_a_label():
                return ""
        cut = self._cut_position()
        if cut is not None:
            self.done = True
            return self._emit(self._pending[:cut].rstrip())
        ready = len(self._pending) - self._held_back_chars()
        return self._emit_prefix(ready)

    def finish(self) -> str:
        """End of generation: release what was held back."""
        if self.done:
            return ""
        self.done = True
        return self._emit(self._pending.rstrip())

    def _may_still_be_a_label(self) -> bool:
        """Drop a leading speaker label; True while the pending text could still become one."""
        for label in self._leading_labels:
            if self._pending.startswith(label):
                self._pending = self._pending[len(label) :].lstrip()
            if label.startswith(self._pending):
                return True
        return False

    def _cut_position(self) -> int | None:
        """Where the answer must end within the pending text, if it must."""
        text = self._emitted + self._pending
        ends = [end for s in self._stop if (end := text.find(s, len(self._emitted))) >= 0]
        sentence_cap = self._sentence_cap_end(text)
        if sentence_cap is not None:
            ends.append(sentence_cap)
        if not ends:
            return None
        return max(0, min(ends) - len(self._emitted))

    def _sentence_cap_end(self, text: str) -> int | None:
        ends = [match.end() for match in _SENTENCE_END.finditer(text)]
        if len(ends) < self._max_sentences:
            return None
        return ends[self._max_sentences - 1]

    def _held_back_chars(self) -> int:
        """Length of the longest pending suffix that could grow into a stop string."""
        held = 0
        for stop in self._stop:
            for length in range(min(len(stop) - 1, len(self._pending)), held, -1):
                if self._pending.endswith(stop[:length]):
                    held = length
                    break
        # Spaces before a possible stop (or at the end) are only spoken once more text follows.
        before = self._pending[: len(self._pending) - held]
        return held + len(before) - len(before.rstrip())

    def _emit_prefix(self, length: int) -> str:
        if length <= 0:
            return ""
        ready, self._pending = self._pending[:length], self._pending[length:]
        return self._append(ready)

    def _emit(self, text: str) -> str:
        self._pending = ""
        return self._append(text)

    def _append(self, text: str) -> str:
        if self._emitted.endswith(" "):
            text = text.lstrip(" ")
        text = _SPACES.sub(" ", text)
        self._emitted += text
        return text
