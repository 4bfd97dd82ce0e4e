"""The clause chunker hands TTS each clause as soon as it is complete
(voice/engine/pipeline/chunker.py)."""

from __future__ import annotations

import pytest

from voice.engine.pipeline.chunker import MAX_CLAUSE_CHARS, ClauseChunker, speakable


def chunk(text: str, *, step: int = 1) -> list[str]:
    """Stream `text` in pieces of `step` characters, as tokens arrive, then flush."""
    chunker = ClauseChunker()
    clauses = []
    for start in range(0, len(text), step):
        clauses += chunker.push(text[start : start + step])
    return clauses + chunker.flush()


def test_a_sentence_is_released_as_soon_as_the_next_character_confirms_it() -> None:
    chunker = ClauseChunker()
    assert chunker.push("Paris is the capital.") == []
    assert chunker.push(" It") == ["Paris is the capital."]
    assert chunker.flush() == ["It"]


@pytest.mark.parametrize("step", [1, 3, 1000])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pi is 3.14 today. Yes!", ["Pi is 3.14 today.", "Yes!"]),
        ("See example.com for more. Thanks.", ["See example.com for more.", "Thanks."]),
        ("Dr. Smith met Mr. Jones. Then", ["Dr. Smith met Mr. Jones.", "Then"]),
        ("Bring fruit, e.g. apples. Done.", ["Bring fruit, e.g. apples.", "Done."]),
        ("J. R. R. Tolkien wrote it. True.", ["J. R. R. Tolkien wrote it.", "True."]),
        ("So do I. Really?", ["So do I.", "Really?"]),
        ("Is it? Yes! Wow...", ["Is it?", "Yes!", "Wow..."]),
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
        ("It costs $1,000.50 now. Ok.", ["It costs $1,000.50 now.", "Ok."]),
        ("Meet at 10:30 today. Ok.", ["Meet at 10:30 today.", "Ok."]),
    ],
)
def test_abbreviations_decimals_urls_and_initials_do_not_split(
    text: str, expected: list[str], step: int
) -> None:
    assert chunk(text, step=step) == expected


def test_list_items_each_become_a_clause_without_their_markup() -> None:
    text = "Here are three:\n1. Flour\n2. **Eggs**\n- Milk\n"
    assert chunk(text) == ["Here are three:", "1. Flour", "2. Eggs", "Milk"]


def test_the_first_clause_is_cut_at_a_comma_to_start_speaking_early() -> None:
    text = "Well, that depends on the weather, the season and on how far you are willing to go."
    clauses = chunk(text)
    assert clauses[0] == "Well, that depends on the weather,"
    assert " ".join(clauses) == text


def test_later_clauses_are_only_cut_at_commas_once_they_are_long() -> None:
    text = "Sure. I like apples, pears and plums, and honestly most other kinds of fruit too."
    assert chunk(text) == [
        "Sure.",
        "I like apples, pears and plums, and honestly most other kinds of fruit too.",
    ]


def test_a_model_that_never_punctuates_is_still_spoken_in_bounded_pieces() -> None:
    text = " ".join(["word"] * 200)
    clauses = chunk(text)
    assert len(clauses) > 1
    assert all(len(clause) <= MAX_CLAUSE_CHARS + 5 for clause in clauses)
    assert " ".join(clauses) == text


def test_nothing_speakable_yields_no_clause() -> None:
    assert chunk("  \n ** \n") == []
    assert speakable("## Heading *now*") == "Heading now"
