"""Cutting a streamed answer into clauses that TTS can speak as soon as each is complete.

Written here rather than taken from a sentence-splitting library (pySBD, NLTK's punkt): those
split finished text, while this must decide on a prefix of a stream, and must cut earlier than
a sentence when that gets the first audio out sooner. A boundary is only confirmed by the
character after it, so "3." followed by "14" or "example." followed by "com" never splits.
"""

from __future__ import annotations

import re

# Words whose trailing period does not end a sentence.
ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e",
        "eg", "ie", "approx", "no", "fig", "inc", "ltd", "co", "corp", "dept", "est", "min",
        "max", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
        "dec", "mon", "tue", "wed", "thu", "fri", "sat", "sun", "a.m", "p.m", "u.s", "u.k",
    }
)  # fmt: skip
SENTENCE_END = ".!?…"
# Closing quotes and brackets that belong to the sentence they end.
CLOSERS = "\"')]}\u201d\u2019"  # closing double and single quotes
SOFT_BREAKS = ",;:\u2014\u2013"  # em and en dashes
# The first clause is cut at a comma early, to start speaking sooner; later ones run longer,
# which sounds more natural and costs nothing once audio is flowing.
FIRST_CLAUSE_MIN_CHARS = 16
CLAUSE_MIN_CHARS = 60
# Past this a clause is cut at the next space whatever it says (a model that never
# punctuates must still be spoken).
MAX_CLAUSE_CHARS = 220

_MARKDOWN = re.compile(r"\*\*|__|(?<!\w)[*_](?=\w)|(?<=\w)[*_](?!\w)|`|^#+\s*|^\s*[-*•]\s+", re.M)
_LIST_NUMBER = re.compile(r"^\s*\d{1,3}[.)]$")


def speakable(text: str) -> str:
    """The clause without markdown that a voice would read out (bold, bullets, headings)."""
    return " ".join(_MARKDOWN.sub("", text).split())


class ClauseChunker:
    """Feed text deltas with `push`; take complete clauses as they appear; `flush` at the end."""

    def __init__(self) -> None:
        self._buffer = ""
        self._emitted = 0

    def push(self, text: str) -> list[str]:
        self._buffer += text
        clauses = []
        while (cut := self._boundary()) is not None:
            clause, self._buffer = self._buffer[:cut], self._buffer[cut:]
            if spoken := speakable(clause):
                clauses.append(spoken)
                self._emitted += 1
        return clauses

    def flush(self) -> list[str]:
        rest, self._buffer = self._buffer, ""
        spoken = speakable(rest)
        return [spoken] if spoken else []

    def _boundary(self) -> int | None:
        """Where the first complete clause of the buffer ends, if it is known yet."""
        buffer = self._buffer
        min_soft = FIRST_CLAUSE_MIN_CHARS if self._emitted == 0 else CLAUSE_MIN_CHARS
        for index, char in enumerate(buffer):
            if char == "\n":
                if buffer[:index].strip() and not _LIST_NUMBER.match(buffer[:index]):
                    return index + 1
            elif char in SENTENCE_END:
                end = _sentence_end(buffer, index)
                if end is not None:
                    return end
            elif char in SOFT_BREAKS and index + 1 >= min_soft:
                if index + 1 < len(buffer) and buffer[index + 1].isspace():
                    return index + 1
            elif char.isspace() and index >= MAX_CLAUSE_CHARS:
                return index + 1
        return None


def _sentence_end(buffer: str, index: int) -> int | None:
    """The cut after the sentence-ending mark at `index`, or None if it is not one (yet)."""
    end = index + 1
    while end < len(buffer) and (buffer[end] in SENTENCE_END or buffer[end] in CLOSERS):
        end += 1
    if end >= len(buffer):
        return None  # the next character decides
    if not buffer[end].isspace():
        return None  # 3.14, example.com, "Wait...what"
    if buffer[index] == "." and not _ends_sentence(buffer[:index]):
        return None
    return end


def _ends_sentence(before: str) -> bool:
    """Whether a period after `before` ends a sentence (not "Dr.", "J.", "e.g.", "2.")."""
    words = before.split()
    if not words:
        return False
    original = words[-1].lstrip("(\"'\u201c\u2018")
    word = original.lower()
    if word in ABBREVIATIONS:
        return False
    if len(original) == 1 and original.isupper() and original != "I":
        return False  # an initial: "J. R. R. Tolkien"
    # A list number ("1.") at the start of a clause announces an item rather than ending one.
    return not (len(words) == 1 and word.isdigit())
