"""Piper speaks text as a prompt stream of int16 chunks that Whisper understands."""

from __future__ import annotations

import asyncio
import logging
import time

import numpy as np
import pytest

from voice.engine.audio.resample import resample
from voice.engine.config import PIPELINE_RATE_HZ
from voice.engine.errors import InvalidRequestError, ProviderUnavailableError
from voice.engine.stt.base import TranscriptionRequest
from voice.engine.stt.local_whisper import LocalWhisperSTT
from voice.engine.tts import piper as piper_module
from voice.engine.tts.piper import MAX_PIECE_CHARS, PiperTTS, text_pieces
from voice.tests.engine.stt.recordings import word_error_rate

pytestmark = pytest.mark.models

LONG_TEXT = " ".join(
    f"This is sentence number {index} of a long answer that nobody will listen to."
    for index in range(40)
)


@pytest.fixture(scope="session")
async def piper() -> PiperTTS:
    tts = await PiperTTS.load_shared()
    await tts.warm_up()
    return tts


async def _speak(tts: PiperTTS, text: str, **kwargs: str) -> list[np.ndarray]:
    return [chunk async for chunk in tts.synthesize(text, **kwargs)]


async def test_speech_comes_as_int16_mono_chunks_at_the_voice_rate(piper):
    chunks = await _speak(piper, "The weather is sunny today.")

    assert piper.sample_rate_hz == 22_050
    assert chunks
    assert all(chunk.dtype == np.int16 and chunk.ndim == 1 for chunk in chunks)
    duration_s = sum(chunk.size for chunk in chunks) / piper.sample_rate_hz
    assert 1.0 < duration_s < 4.0
    assert max(int(np.abs(chunk).max()) for chunk in chunks) > 10_000  # audible, not silence


@pytest.mark.parametrize(
    "sentence",
    [
        "The quick brown fox jumps over the lazy dog.",
        "Can you tell me what the weather will be like in Paris tomorrow?",
    ],
)
async def test_whisper_understands_what_piper_says(piper, sentence):
    speech = np.concatenate(await _speak(piper, sentence))
    speech_16k = resample(speech, piper.sample_rate_hz, PIPELINE_RATE_HZ)

    transcript = await LocalWhisperSTT.shared().transcribe(TranscriptionRequest(speech_16k))

    assert word_error_rate(sentence, transcript.text) <= 0.15


async def test_first_clause_is_spoken_before_the_rest_of_the_sentence_is_rendered(piper):
    chunks = await _speak(piper, "Sure, I can help with that.")

    assert len(chunks) == 2
    assert chunks[0].size < chunks[1].size


@pytest.mark.parametrize("text", ["", "   ", "\n\t  \n"])
async def test_empty_or_blank_text_yields_no_audio(piper, text):
    assert await _speak(piper, text) == []


async def test_cancelling_a_long_synthesis_stops_it_promptly(piper):
    chunk_count = 0
    first_chunk = asyncio.Event()

    async def consume() -> None:
        nonlocal chunk_count
        async for _chunk in piper.synthesize(LONG_TEXT):
            chunk_count += 1
            first_chunk.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_chunk.wait(), timeout=5)
    cancelled_at = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - cancelled_at < 0.1
    assert chunk_count < 5  # of 40 sentences

    # The cores are free again soon: no leftover sentences are rendered in the background.
    started = time.perf_counter()
    assert await _speak(piper, "Yes.")
    assert time.perf_counter() - started < 1.5


async def test_very_long_unpunctuated_text_streams_in_bounded_chunks(piper):
    text = "and then " * 2_000  # 18,000 characters, no sentence end anywhere
    chunk_sizes = []

    started = time.perf_counter()
    stream = piper.synthesize(text)
    async for chunk in stream:
        chunk_sizes.append(chunk.size)
        if len(chunk_sizes) == 1:
            first_chunk_s = time.perf_counter() - started
        if len(chunk_sizes) == 2:
            break
    await stream.aclose()

    # Rendering all of it would take over a minute: the first piece comes long before.
    assert first_chunk_s < 5.0
    # A piece of at most MAX_PIECE_CHARS lasts well under 20 s of speech.
    assert max(chunk_sizes) < 20 * piper.sample_rate_hz


async def test_text_beyond_the_limit_is_an_invalid_request(piper):
    with pytest.raises(InvalidRequestError, match="at most"):
        await _speak(piper, "a" * (piper_module.MAX_TEXT_CHARS + 1))


async def test_non_text_is_an_invalid_request(piper):
    with pytest.raises(InvalidRequestError):
        await _speak(piper, b"hello")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "hostile",
    [
        "[[ h ə l oʊ ]] and [[",
        "nul\x00byte and bell\x07 and escape\x1b[31m red",
        "🙂🙂🙂 🎉",
        "‮reversed ‭text",
        "?!.,;:" * 50,
        "a" * 600,
    ],
    ids=["phoneme-markup", "control-chars", "emoji", "bidi", "punctuation", "one-huge-word"],
)
async def test_hostile_text_is_spoken_or_skipped_without_crashing(piper, hostile):
    chunks = await asyncio.wait_for(_speak(piper, hostile), timeout=30)

    assert all(chunk.dtype == np.int16 for chunk in chunks)


async def test_an_unknown_voice_falls_back_to_the_packaged_voice_with_a_warning(piper, caplog):
    with caplog.at_level(logging.WARNING, logger=piper_module.__name__):
        chunks = await _speak(piper, "Hello.", voice="alloy-test-voice")

    assert chunks
    assert "alloy-test-voice" in caplog.text


async def test_the_packaged_voice_name_is_accepted_silently(piper, caplog):
    with caplog.at_level(logging.WARNING, logger=piper_module.__name__):
        chunks = await _speak(piper, "Hello.", voice="en_US-joe-medium")

    assert chunks
    assert caplog.text == ""


async def test_concurrent_syntheses_both_complete(piper):
    first, second = await asyncio.gather(
        _speak(piper, "Good morning."), _speak(piper, "Good night, and sleep well.")
    )

    assert first
    assert second


def test_shared_returns_one_instance_per_process(piper):
    assert PiperTTS.shared() is piper


def test_a_missing_voice_file_is_provider_unavailable(tmp_path):
    with pytest.raises(ProviderUnavailableError, match="does not exist"):
        PiperTTS(tmp_path / "nobody.onnx")


def test_a_corrupt_voice_file_is_provider_unavailable(tmp_path):
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"not onnx")
    (tmp_path / "broken.onnx.json").write_text("{}")

    with pytest.raises(ProviderUnavailableError, match="Cannot load"):
        PiperTTS(model)


def test_text_is_cut_at_sentence_ends_and_after_the_first_clause():
    pieces = list(text_pieces("Sure, I can help. What is the date? It is Monday!"))

    assert pieces == ["Sure,", "I can help.", "What is the date?", "It is Monday!"]


def test_a_one_word_remainder_keeps_the_first_sentence_whole():
    assert list(text_pieces("Sure, thanks.")) == ["Sure, thanks."]


def test_no_piece_is_longer_than_the_limit_and_no_word_is_lost():
    text = "word " * 300 + "tail, " * 100 + "x" * 450

    pieces = list(text_pieces(text))

    assert max(len(piece) for piece in pieces) <= MAX_PIECE_CHARS
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")


def test_phoneme_markup_never_reaches_piper():
    assert list(text_pieces("say [[ b a m ]] now")) == ["say b a m now"]
