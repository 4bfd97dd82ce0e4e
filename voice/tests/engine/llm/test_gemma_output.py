"""Cutting the small model's streamed text into a short spoken answer."""

from __future__ import annotations

from voice.engine.llm.gemma_output import SpokenAnswer
from voice.engine.llm.gemma_prompt import TRANSCRIPT_STOP


def spoken(pieces: list[str], max_sentences: int = 2) -> tuple[list[str], SpokenAnswer]:
    answer = SpokenAnswer(stop=TRANSCRIPT_STOP, max_sentences=max_sentences)
    out = [answer.feed(piece) for piece in pieces]
    if not answer.done:
        out.append(answer.finish())
    return [text for text in out if text], answer


def test_text_streams_piece_by_piece() -> None:
    out, answer = spoken([" The", " capital", " is", " Paris"])

    assert out == ["The", " capital", " is", " Paris"]
    assert answer.text == "The capital is Paris"


def test_the_answer_ends_at_a_new_line_and_the_rest_is_never_spoken() -> None:
    out, answer = spoken([" Paris.", "\n", "User", ": and", " Rome?"])

    assert answer.done
    assert answer.text == "Paris."
    assert "".join(out) == "Paris."


def test_a_stop_string_split_across_pieces_is_held_back_then_dropped() -> None:
    out, answer = spoken(["Sure thing", " User", ":", " hello"])

    assert answer.text == "Sure thing"
    assert "User" not in "".join(out)


def test_held_back_text_that_is_not_a_stop_is_spoken_later() -> None:
    _, answer = spoken(["Ask the ", "Us", "ers group"])

    assert answer.text == "Ask the Users group"


def test_answers_are_capped_at_two_sentences() -> None:
    _, answer = spoken(["One. ", "Two! ", "Three? ", "Four."])

    assert answer.done
    assert answer.text == "One. Two!"


def test_decimals_do_not_end_a_sentence() -> None:
    _, answer = spoken(["It is 3.5 degrees. ", "Wear a coat. ", "Or two."])

    assert answer.text == "It is 3.5 degrees. Wear a coat."


def test_leading_blank_lines_do_not_end_the_answer_before_it_starts() -> None:
    _, answer = spoken(["\n", "\n Hello", " there!"])

    assert answer.text == "Hello there!"


def test_nothing_is_spoken_after_the_answer_is_done() -> None:
    answer = SpokenAnswer(stop=TRANSCRIPT_STOP, max_sentences=1)
    answer.feed("Done. ")
    answer.feed("More")

    assert answer.done
    assert answer.feed(" text.") == ""
    assert answer.finish() == ""
    assert answer.text == "Done."
