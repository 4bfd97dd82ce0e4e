"""Output pacing and heard-audio accounting (voice/engine/pipeline/playback.py)."""

from __future__ import annotations

import pytest

from voice.engine.pipeline.playback import PlaybackClock, SpokenText

FRAME_MS = 20


class SteppedClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now_s = 100.0

    def monotonic(self) -> float:
        return self.now_s

    def advance_ms(self, ms: float) -> None:
        self.now_s += ms / 1000


def send(playback: PlaybackClock, frames: int) -> None:
    for _ in range(frames):
        playback.frame_sent(FRAME_MS)


def sent_without_waiting(playback: PlaybackClock) -> int:
    frames = 0
    while playback.delay_before_next_s() == 0:
        playback.frame_sent(FRAME_MS)
        frames += 1
    return frames


def test_output_runs_ahead_of_the_play_head_by_at_most_the_lead() -> None:
    clock = SteppedClock()
    playback = PlaybackClock(clock, lead_ms=300, refill_ms=100)
    # 15 frames of 20 ms fill the 300 ms lead, and the one that starts at 300 ms goes too.
    assert sent_without_waiting(playback) == 16
    assert playback.unplayed_ms() == pytest.approx(320)


def test_a_full_lead_is_refilled_in_batches_not_frame_by_frame() -> None:
    clock = SteppedClock()
    playback = PlaybackClock(clock, lead_ms=300, refill_ms=100)
    sent_without_waiting(playback)
    # Full: the next frame waits until 120 ms have played (200 ms left at the client)...
    assert playback.delay_before_next_s() == pytest.approx(0.120)
    clock.advance_ms(60)
    assert playback.delay_before_next_s() == pytest.approx(0.060)
    clock.advance_ms(60)
    # ...and then 6 frames go at once, back to a full lead.
    assert sent_without_waiting(playback) == 6
    assert playback.unplayed_ms() == pytest.approx(320)


def test_without_a_refill_size_output_keeps_the_lead_frame_by_frame() -> None:
    clock = SteppedClock()
    playback = PlaybackClock(clock, lead_ms=300, refill_ms=0)
    sent_without_waiting(playback)
    assert playback.delay_before_next_s() == pytest.approx(0.020)
    clock.advance_ms(20)
    assert sent_without_waiting(playback) == 1


def test_heard_audio_is_what_was_sent_minus_what_is_still_queued_at_the_client() -> None:
    clock = SteppedClock()
    playback = PlaybackClock(clock)
    send(playback, 50)  # 1 s sent at once
    clock.advance_ms(400)
    assert playback.heard_ms() == pytest.approx(400)
    assert playback.unplayed_ms() == pytest.approx(600)
    clock.advance_ms(5_000)
    assert playback.heard_ms() == pytest.approx(1_000)


def test_an_underrun_restarts_the_play_head_when_audio_arrives_again() -> None:
    clock = SteppedClock()
    playback = PlaybackClock(clock)
    send(playback, 5)  # 100 ms
    clock.advance_ms(500)  # the client played it and then waited for more
    send(playback, 5)
    clock.advance_ms(50)
    assert playback.heard_ms() == pytest.approx(150)


def test_withdrawn_frames_are_neither_sent_nor_waiting_to_play() -> None:
    clock = SteppedClock()
    playback = PlaybackClock(clock)
    send(playback, 20)  # 400 ms
    playback.frames_withdrawn(200)
    assert playback.sent_ms == 200
    clock.advance_ms(100)
    assert playback.unplayed_ms() == pytest.approx(100)
    assert playback.heard_ms() == pytest.approx(100)


def test_a_client_acknowledgement_replaces_the_estimate() -> None:
    clock = SteppedClock()
    playback = PlaybackClock(clock)
    send(playback, 50)
    clock.advance_ms(500)
    playback.acknowledge(200)  # the client started late: it has played only 200 ms
    clock.advance_ms(100)
    assert playback.heard_ms() == pytest.approx(300)


def spoken_clauses() -> SpokenText:
    spoken = SpokenText()
    spoken.clause_started("The capital of France is Paris.", 0)
    spoken.clause_ended(2_000)
    spoken.clause_started("It lies on the Seine.", 2_000)
    spoken.clause_ended(3_500)
    return spoken


def test_heard_text_keeps_whole_clauses_heard_to_their_end() -> None:
    spoken = spoken_clauses()
    assert spoken.heard_text(2_000) == "The capital of France is Paris."
    assert spoken.heard_text(10_000) == "The capital of France is Paris. It lies on the Seine."
    assert spoken.first_unheard_clause(2_000) == 1


def test_heard_text_cuts_the_interrupted_clause_by_time_share_at_a_word_boundary() -> None:
    spoken = spoken_clauses()
    # Half of "The capital of France is Paris." (31 characters) falls inside "France".
    assert spoken.heard_text(1_000) == "The capital of"
    assert spoken.heard_text(0) == ""
    assert spoken.first_unheard_clause(1_000) == 0


def test_a_clause_still_streaming_is_cut_by_an_estimated_speaking_rate() -> None:
    spoken = SpokenText()
    spoken.clause_started("One two three four five six seven eight.", 0)
    heard = spoken.heard_text(700)
    assert heard.startswith("One two")
    assert not heard.endswith("eight.")
