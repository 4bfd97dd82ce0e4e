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
    out, answer = spoken([" Paris.", "\n", "Q", ": and", " Rome?"])

    assert answer.done
    assert answer.text == "Paris."
    assert "".join(out) == "Paris."


def test_a_stop_string_split_across_pieces_is_held_back_then_dropped() -> None:
    out, answer = spoken(["Sure thing", " Q", ":", " hello"])

    assert answer.text == "Sure thing"
    assert "Q" not in "".join(out)


def test_held_back_text_that_is_not_a_stop_is_spoken_later() -> None:
    out, answer = spoken(["Ask the ", "Q", "A team"])

    assert out[:2] == ["Ask the", " QA team"]
    assert answer.text == "Ask the QA team"


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


def leading(pieces: list[str]) -> SpokenAnswer:
    answer = SpokenAnswer(stop=TRANSCRIPT_STOP, max_sentences=2, leading_labels=("A:",))
    for piece in pieces:
        answer.feed(piece)
    answer.finish()
    return answer


def test_a_repeated_speaker_label_at_the_start_is_dropped() -> None:
    assert leading([" A", ":", " Paris", " it", " is."]).text == "Paris it is."
    assert leading([" A: A:", " Hello!"]).text == "Hello!"


def test_a_label_like_start_that_is_a_word_is_spoken() -> None:
    assert leading([" A", " spider", " has", " eight", " legs."]).text == "A spider has eight legs."
    assert leading(["Vitamin A: carrots."]).text == "Vitamin A: carrots."


def test_nothing_is_spoken_while_the_start_could_still_be_a_label() -> None:
    answer = SpokenAnswer(stop=TRANSCRIPT_STOP, max_sentences=2, leading_labels=("A:",))

    assert answer.feed(" A") == ""
    assert answer.feed(" bee") == "A bee"
