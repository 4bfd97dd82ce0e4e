"""Joining the audio clock to the monotonic clock, and per-turn latencies."""

from __future__ import annotations

from voice.engine.observability.turn_metrics import ArrivalClock, TurnTimeline


def test_a_sample_maps_to_the_arrival_of_the_chunk_that_carried_it() -> None:
    arrivals = ArrivalClock()
    arrivals.audio_arrived(320, at_s=10.00)  # samples 1..320
    arrivals.audio_arrived(320, at_s=10.02)  # samples 321..640
    assert arrivals.arrival_of(1) == 10.00
    assert arrivals.arrival_of(320) == 10.00
    assert arrivals.arrival_of(321) == 10.02
    assert arrivals.arrival_of(641) is None
    assert arrivals.total_ms == 40


def test_voice_to_voice_runs_from_the_speech_end_to_the_first_audio_out() -> None:
    timeline = TurnTimeline(speech_end_at=100.0, user_item_id="item_1", speculative=True)
    timeline.speech_stopped_at = 100.5
    timeline.transcript_at = 100.45  # the speculative transcript was ready before the stop
    timeline.llm_started_at = 100.45
    timeline.first_token_at = 100.6
    timeline.first_clause_at = 100.7
    timeline.tts_started_at = 100.7
    timeline.tts_first_audio_at = 100.8
    timeline.first_audio_out_at = 100.9

    metrics = timeline.metrics(
        response_id="resp_1", input_tokens=12, output_tokens=30, audio_out_s=2.5
    )

    assert metrics.voice_to_voice_ms == 900.0
    assert metrics.stt_ms == 0.0
    assert metrics.llm_first_token_ms == 150.0
    assert metrics.first_clause_ms == 250.0
    assert metrics.tts_first_audio_ms == 100.0
    assert metrics.user_item_id == "item_1"
