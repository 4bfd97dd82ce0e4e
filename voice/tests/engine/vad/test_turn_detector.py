import dataclasses
import logging

import numpy as np
import pytest

from voice.engine.config import TurnDetectionConfig
from voice.engine.errors import AudioFormatError, InvalidRequestError
from voice.engine.vad.factory import make_vad
from voice.engine.vad.turn_detector import (
    PauseHeld,
    SilenceStarted,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    TurnDetector,
)

VADS = ["webrtc", "silero"]
SAMPLES_PER_MS = 16

# Long pauses in lecture60.wav, from both detectors' frame-level decisions at threshold 0.5:
# speech stops at ~2.0 s, ~6.8-6.9 s, ~19.6 s, ~38.9-39.2 s and ~46.8-46.9 s and does not come
# back for at least 0.55 s. With the default 500 ms silence each must end a turn, roughly
# half a second later (WebRTC's hangover adds up to ~0.3 s).
LECTURE_TURN_ENDS_MS = [
    (2_300, 2_900),
    (7_100, 7_700),
    (19_900, 20_500),
    (39_200, 40_000),
    (47_100, 47_700),
]
# From ~20.4 s to ~38.8 s the lecturer never pauses for 500 ms.
LECTURE_CONTINUOUS_SPEECH_MS = (21_000, 38_500)


def feed(detector, audio, chunk_samples):
    events = []
    for start in range(0, audio.size, chunk_samples):
        events.extend(detector.process(audio[start : start + chunk_samples]))
    return events


def of_type(events, kind):
    return [event for event in events if isinstance(event, kind)]


def silence_ms(duration_ms):
    return np.zeros(duration_ms * SAMPLES_PER_MS, dtype=np.int16)


def utterance_start_sample(stop):
    return stop.audio_end_ms * SAMPLES_PER_MS - stop.utterance.size


@pytest.fixture(scope="module", params=VADS)
def lecture_events(request, lecture):
    detector = TurnDetector(TurnDetectionConfig(vad=request.param))
    return request.param, feed(detector, lecture, 320)


def test_lecture_turns_end_in_its_long_pauses(lecture_events):
    _, events = lecture_events
    stops_ms = [stop.audio_end_ms for stop in of_type(events, SpeechStopped)]

    for earliest_ms, latest_ms in LECTURE_TURN_ENDS_MS:
        assert any(earliest_ms <= stop_ms <= latest_ms for stop_ms in stops_ms), (
            f"no turn ended between {earliest_ms} and {latest_ms} ms: {stops_ms}"
        )
    continuous_from_ms, continuous_to_ms = LECTURE_CONTINUOUS_SPEECH_MS
    assert not [ms for ms in stops_ms if continuous_from_ms < ms < continuous_to_ms]
    assert 5 <= len(stops_ms) <= 12


def test_events_follow_the_turn_grammar_in_audio_order(lecture_events):
    _, events = lecture_events
    allowed_next: dict[type | None, set[type]] = {
        None: {SpeechStarted},
        SpeechStarted: {SilenceStarted},
        SilenceStarted: {SpeechResumed, SpeechStopped},
        SpeechResumed: {SilenceStarted},
        SpeechStopped: {SpeechStarted},
    }
    previous: type | None = None
    for event in events:
        assert type(event) in allowed_next[previous], f"{event} after {previous}"
        previous = type(event)
    times_ms = [dataclasses.astuple(event)[0] for event in events]
    assert times_ms == sorted(times_ms)


def test_each_utterance_is_the_stream_from_padding_before_speech_to_the_stop(
    lecture_events, lecture
):
    _, events = lecture_events
    previous_stop_sample = 0
    started_ms = 0
    for event in events:
        if isinstance(event, SpeechStarted):
            started_ms = event.audio_start_ms
        if isinstance(event, SpeechStopped):
            start_sample = utterance_start_sample(event)
            expected_start = max((started_ms - 300) * SAMPLES_PER_MS, previous_stop_sample)
            assert start_sample == expected_start
            end_sample = event.audio_end_ms * SAMPLES_PER_MS
            assert np.array_equal(event.utterance, lecture[start_sample:end_sample])
            previous_stop_sample = end_sample


@pytest.mark.parametrize("vad", VADS)
@pytest.mark.parametrize(
    "noise",
    ["digital_silence", "white_noise_-50dBFS", "click", "100ms_noise_burst", "100ms_of_speech"],
)
def test_no_turn_starts_on_silence_noise_or_bursts_shorter_than_min_speech(vad, noise, lecture):
    rng = np.random.default_rng(7)
    audio = silence_ms(3_000)
    burst = slice(16_000, 16_000 + 100 * SAMPLES_PER_MS)
    if noise == "white_noise_-50dBFS":
        audio = (rng.standard_normal(audio.size) * 32768 * 10 ** (-50 / 20)).astype(np.int16)
    elif noise == "click":
        audio[16_000:16_040] = 30_000
    elif noise == "100ms_noise_burst":
        audio[burst] = (rng.standard_normal(1_600) * 8_000).astype(np.int16)
    elif noise == "100ms_of_speech":
        audio[burst] = lecture[16_000:17_600]  # the middle of "how do I get to Dublin"
    detector = TurnDetector(TurnDetectionConfig(vad=vad, min_speech_duration_ms=200))

    assert feed(detector, audio, 320) == []
    assert not detector.in_speech


@pytest.mark.parametrize("vad", VADS)
def test_one_two_three_is_one_utterance_containing_all_words(vad, english):
    # The speaker leaves ~0.6 s between the words (Silero hears 448-1088 ms and 1472-2048 ms
    # as silence), so a one-second end-of-turn silence keeps them in one turn.
    config = TurnDetectionConfig(vad=vad, silence_duration_ms=1_000)
    stream = np.concatenate([silence_ms(500), english, silence_ms(1_500)])

    events = feed(TurnDetector(config), stream, 480)

    (started,) = of_type(events, SpeechStarted)
    (stopped,) = of_type(events, SpeechStopped)
    start_sample = utterance_start_sample(stopped)
    end_sample = stopped.audio_end_ms * SAMPLES_PER_MS
    energy = stream.astype(np.float64) ** 2
    assert energy[start_sample:end_sample].sum() > 0.995 * energy.sum()
    assert 500 <= started.audio_start_ms <= 800  # "One" begins ~60-100 ms into the file
    assert np.array_equal(stopped.utterance, stream[start_sample:end_sample])


@pytest.mark.parametrize("vad", VADS)
def test_events_do_not_depend_on_chunk_size(vad, lecture):
    audio = lecture[: 25 * 16_000]

    tiny = feed(TurnDetector(TurnDetectionConfig(vad=vad)), audio, 7)
    large = feed(TurnDetector(TurnDetectionConfig(vad=vad)), audio, 4000)

    assert tiny == large
    assert len(of_type(tiny, SpeechStopped)) >= 2
    for tiny_stop, large_stop in zip(
        of_type(tiny, SpeechStopped), of_type(large, SpeechStopped), strict=True
    ):
        assert np.array_equal(tiny_stop.utterance, large_stop.utterance)


@pytest.mark.parametrize("vad", VADS)
@pytest.mark.parametrize("silence_duration_ms", [300, 500, 1_000])
def test_turn_ends_silence_duration_after_the_last_speech(vad, silence_duration_ms, english):
    config = TurnDetectionConfig(vad=vad, silence_duration_ms=silence_duration_ms)
    stream = np.concatenate([english, silence_ms(2_000)])
    # The reference: the last frame the same detector calls speech; only silence follows it.
    reference = make_vad(config)
    frame = reference.frame_samples
    voiced_ends = [
        start + frame
        for start in range(0, stream.size - frame + 1, frame)
        if reference.speech_probability(stream[start : start + frame]) >= config.threshold * 0.7
    ]
    last_speech_end_ms = voiced_ends[-1] // SAMPLES_PER_MS

    stops = of_type(feed(TurnDetector(config), stream, 1_000), SpeechStopped)

    frame_ms = frame // SAMPLES_PER_MS
    delay_ms = stops[-1].audio_end_ms - (last_speech_end_ms + silence_duration_ms)
    assert 0 <= delay_ms < frame_ms


@pytest.mark.parametrize("vad", VADS)
def test_a_pause_is_announced_and_voided_when_speech_resumes(vad, english):
    config = TurnDetectionConfig(vad=vad, silence_duration_ms=1_000)
    events = feed(TurnDetector(config), np.concatenate([english, silence_ms(1_500)]), 512)

    pauses = of_type(events, SilenceStarted)
    resumes = of_type(events, SpeechResumed)
    # Two pauses between the three words, each voided by the next word; then the final one.
    assert len(pauses) == 3
    assert len(resumes) == 2
    for pause, resume in zip(pauses, resumes, strict=False):
        assert 300 <= resume.audio_ms - pause.audio_ms <= 1_000


@pytest.mark.parametrize("vad", VADS)
def test_a_pause_that_lasts_hold_ms_is_held_once_and_only_the_last_one_here(vad, english):
    # english.wav's mid-sentence pauses are shorter than 900 ms; its end is followed by 1.5 s.
    config = TurnDetectionConfig(vad=vad, silence_duration_ms=1_000)
    detector = TurnDetector(config, hold_ms=900)
    events = feed(detector, np.concatenate([english, silence_ms(1_500)]), 512)

    held = of_type(events, PauseHeld)
    last_pause = of_type(events, SilenceStarted)[-1]
    assert held == [PauseHeld(last_pause.audio_ms)]
    order = [type(event) for event in events[events.index(last_pause) :]]
    assert order == [SilenceStarted, PauseHeld, SpeechStopped]


@pytest.mark.parametrize("vad", VADS)
def test_with_a_short_hold_every_pause_is_held_before_speech_resumes(vad, english):
    config = TurnDetectionConfig(vad=vad, silence_duration_ms=1_000)
    stream = np.concatenate([english, silence_ms(1_500)])
    events = feed(TurnDetector(config, hold_ms=200), stream, 512)

    pauses = of_type(events, SilenceStarted)
    held = of_type(events, PauseHeld)
    assert [event.audio_ms for event in held] == [pause.audio_ms for pause in pauses]
    for pause, hold in zip(pauses, held, strict=True):
        assert events.index(pause) < events.index(hold)


def test_a_pause_that_speech_ends_before_hold_ms_is_not_held(english):
    # english.wav's mid-sentence pauses last ~420 ms to WebRTC: the next word is voiced before
    # 450 ms, although it is confirmed as speech resuming (60 ms of it) only after 450 ms.
    config = TurnDetectionConfig(vad="webrtc", silence_duration_ms=500)
    stream = np.concatenate([english, silence_ms(1_000)])
    events = feed(TurnDetector(config, hold_ms=450), stream, 320)

    assert len(of_type(events, SpeechResumed)) == 2
    last_pause = of_type(events, SilenceStarted)[-1]
    assert of_type(events, PauseHeld) == [PauseHeld(last_pause.audio_ms)]


@pytest.mark.parametrize("vad", VADS)
def test_a_hold_longer_than_the_silence_comes_with_the_end_of_the_turn(vad, english):
    config = TurnDetectionConfig(vad=vad, silence_duration_ms=1_000)
    detector = TurnDetector(config, hold_ms=5_000)
    events = feed(detector, np.concatenate([english, silence_ms(1_500)]), 512)

    stop = of_type(events, SpeechStopped)[-1]
    assert of_type(events, PauseHeld) == [events[events.index(stop) - 1]]
    assert isinstance(events[events.index(stop) - 2], SilenceStarted)


def test_without_hold_ms_no_pause_is_held(english):
    stream = np.concatenate([english, silence_ms(1_000)])
    events = feed(TurnDetector(TurnDetectionConfig()), stream, 512)

    assert of_type(events, PauseHeld) == []


@pytest.mark.parametrize("vad", VADS)
def test_utterance_so_far_at_a_pause_is_the_start_of_the_final_utterance(vad, english):
    detector = TurnDetector(TurnDetectionConfig(vad=vad, silence_duration_ms=1_000))
    stream = np.concatenate([english, silence_ms(1_500)])
    speculative = None
    final = None
    for start in range(0, stream.size, 320):
        for event in detector.process(stream[start : start + 320]):
            if isinstance(event, SilenceStarted):
                speculative = detector.utterance_so_far()
            if isinstance(event, SpeechStopped):
                final = event.utterance

    assert speculative is not None
    assert final is not None
    assert speculative.size < final.size
    assert np.array_equal(final[: speculative.size], speculative)
    assert detector.utterance_so_far().size == 0


@pytest.mark.parametrize("vad", VADS)
def test_a_90_second_monologue_is_cut_into_bounded_turns(vad, lecture):
    # lecture60 then its first 30 s again; 3 s of silence needed to end a turn makes it one
    # monologue (its longest pause is ~2.6 s), so only the 60 s limit can cut it.
    monologue = np.concatenate([lecture, lecture[: 30 * 16_000], silence_ms(3_500)])
    detector = TurnDetector(TurnDetectionConfig(vad=vad, silence_duration_ms=3_000))
    longest_buffered = 0
    events = []
    for start in range(0, monologue.size, 4_000):
        events.extend(detector.process(monologue[start : start + 4_000]))
        longest_buffered = max(longest_buffered, detector.utterance_so_far().size)

    stops = of_type(events, SpeechStopped)
    assert len(stops) >= 2
    assert all(stop.utterance.size <= 60 * 16_000 for stop in stops)
    assert stops[0].utterance.size == 60 * 16_000
    assert longest_buffered <= 60 * 16_000 + 4_000
    # The cut loses nothing and repeats nothing: the next turn starts where the last one ended.
    assert utterance_start_sample(stops[1]) == stops[0].audio_end_ms * SAMPLES_PER_MS
    assert stops[-1].audio_end_ms >= 90_000


@pytest.mark.parametrize("vad", VADS)
def test_reset_starts_a_new_stream_on_a_fresh_clock(vad, english):
    stream = np.concatenate([english, silence_ms(1_000)])
    detector = TurnDetector(TurnDetectionConfig(vad=vad))
    first = feed(detector, stream, 640)
    feed(detector, stream[:20_000], 640)

    detector.reset()

    assert not detector.in_speech
    assert detector.processed_ms == 0
    assert feed(detector, stream, 640) == first


def test_threshold_applies_to_the_speech_probability(lecture):
    detector = TurnDetector(TurnDetectionConfig(vad="silero", threshold=1.0))

    assert feed(detector, lecture[: 10 * 16_000], 512) == []


def test_audio_clock_counts_samples_not_wall_time():
    detector = TurnDetector(TurnDetectionConfig(vad="webrtc"))

    detector.process(silence_ms(1_234))

    assert detector.processed_ms == 1_220  # whole 20 ms frames; the rest waits for more audio


class TestManualMode:
    def test_nothing_is_detected_and_commit_returns_everything_since_the_last_commit(self, english):
        detector = TurnDetector(None)

        assert feed(detector, english, 333) == []
        assert np.array_equal(detector.commit(), english)
        detector.process(english[:100])
        assert np.array_equal(detector.commit(), english[:100])
        assert detector.commit().size == 0

    def test_clear_drops_the_buffer(self, english):
        detector = TurnDetector(None)
        detector.process(english)

        detector.clear()
        detector.process(english[:50])

        assert np.array_equal(detector.commit(), english[:50])

    def test_uncommitted_audio_is_bounded_to_the_utterance_limit(self, lecture, caplog):
        detector = TurnDetector(None)

        with caplog.at_level(logging.WARNING):
            feed(detector, np.concatenate([lecture, lecture[: 30 * 16_000]]), 16_000)

        committed = detector.commit()
        assert committed.size == 60 * 16_000
        assert np.array_equal(committed[-30 * 16_000 :], lecture[: 30 * 16_000])
        assert "dropping the oldest" in caplog.text


@pytest.mark.parametrize("vad", VADS)
def test_commit_during_speech_ends_the_turn_by_hand(vad, lecture):
    detector = TurnDetector(TurnDetectionConfig(vad=vad))
    events = feed(detector, lecture[:16_000], 320)
    assert of_type(events, SpeechStarted)

    committed = detector.commit()

    assert not detector.in_speech
    # Speech begins within the first frames, so the padding reaches back to the stream start.
    assert np.array_equal(committed, lecture[:16_000])
    assert detector.commit().size == 0


@pytest.mark.parametrize("vad", VADS)
def test_clear_during_speech_abandons_the_turn(vad, lecture):
    detector = TurnDetector(TurnDetectionConfig(vad=vad))
    feed(detector, lecture[:16_000], 320)

    detector.clear()
    events = feed(detector, silence_ms(1_000), 320)

    assert not detector.in_speech
    assert of_type(events, SpeechStopped) == []
    assert detector.processed_ms >= 2_000 - 32


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("threshold", 1.5),
        ("threshold", -0.1),
        ("threshold", float("nan")),
        ("silence_duration_ms", 0),
        ("silence_duration_ms", 10**9),
        ("prefix_padding_ms", -1),
        ("prefix_padding_ms", 10**9),
        ("min_speech_duration_ms", -5),
        ("threshold", "loud"),
    ],
)
def test_out_of_range_config_is_an_invalid_request(field, value):
    config = dataclasses.replace(TurnDetectionConfig(), **{field: value})

    with pytest.raises(InvalidRequestError, match=field) as raised:
        TurnDetector(config)
    assert raised.value.param == f"turn_detection.{field}"


@pytest.mark.parametrize(
    "bad",
    [np.zeros(320, dtype=np.float32), np.zeros((2, 320), dtype=np.int16), b"\x00\x00" * 320],
)
def test_audio_that_is_not_int16_mono_is_an_audio_format_error(bad):
    detector = TurnDetector(TurnDetectionConfig())

    with pytest.raises(AudioFormatError):
        detector.process(bad)
    assert detector.process(np.zeros(0, dtype=np.int16)) == []
