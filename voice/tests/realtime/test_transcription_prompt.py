"""`audio.input.transcription.prompt` over the official SDK, against a real daphne process.

A Piper-spoken sentence names an invented product; local Whisper mishears it until the
session's transcription prompt names it (voice/realtime/session_config.py → every STT route).
"""

from __future__ import annotations

import numpy as np
import pytest

from voice.engine.audio.resample import resample
from voice.engine.tts.piper import PiperTTS
from voice.tests.realtime.conftest import configure_agent, issue_key
from voice.tests.realtime.recordings import paced_chunks
from voice.tests.realtime.test_conformance import events_until, of_type, sdk_client, words

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

PRODUCT_SENTENCE = "My Quorvex dashboard will not load."


@pytest.fixture(scope="session")
async def product_sentence_pcm() -> bytes:
    """The sentence as Piper says it, 24 kHz PCM16, with silence after it to end the turn."""
    tts = await PiperTTS.load_shared()
    speech = np.concatenate([chunk async for chunk in tts.synthesize(PRODUCT_SENTENCE)])
    speech_24k = resample(speech, tts.sample_rate_hz, 24_000)
    silence = np.zeros(24_000 * 3 // 2, dtype=np.int16)
    return np.concatenate([speech_24k, silence]).astype("<i2").tobytes()


async def say_and_transcribe(connection: object, pcm: bytes) -> str:
    async for chunk in paced_chunks(pcm):
        await connection.input_audio_buffer.append(audio=chunk)  # type: ignore[attr-defined]
    received = await events_until(
        connection, "conversation.item.input_audio_transcription.completed", timeout_s=60
    )
    return str(received[-1]["transcript"])


async def test_a_transcription_prompt_naming_the_product_makes_it_heard_right(
    daphne_server, org_alpha, product_sentence_pcm
):
    await configure_agent(
        org_alpha, turn_detection={"type": "server_vad", "create_response": False}
    )
    client = sdk_client(daphne_server, await issue_key(org_alpha))
    async with client.realtime.connect(model="aura-local") as connection:
        await events_until(connection, "session.created")
        without_prompt = await say_and_transcribe(connection, product_sentence_pcm)

        await connection.session.update(
            session={
                "type": "realtime",
                "audio": {"input": {"transcription": {"prompt": "Quorvex", "language": "en"}}},
            }
        )
        updated = (await events_until(connection, "session.updated"))[-1]
        with_prompt = await say_and_transcribe(connection, product_sentence_pcm)

    transcription = updated["session"]["audio"]["input"]["transcription"]
    assert (transcription["prompt"], transcription["language"]) == ("Quorvex", "en")
    assert "quorvex" not in words(without_prompt).split(), without_prompt
    assert words(with_prompt).split() == words(PRODUCT_SENTENCE).split(), with_prompt
    assert not of_type([updated], "error")
