"""monitoring/mos.py and the Celery task that scores sampled audio: DNSMOS P.835 from the
model the speechmos package ships, on the project's own recordings and on Piper's voice."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django_tenants.utils import schema_context

from conversations.models import Conversation, MosScore
from monitoring.mos import SAMPLE_RATE_HZ, dnsmos
from monitoring.tasks import score_audio_mos
from voice.engine.audio.files import read_audio_file
from voice.engine.audio.resample import resample

AUDIO = Path(__file__).resolve().parents[2] / "testdata" / "audio"


def recording_16k(name: str) -> np.ndarray:
    audio, rate = read_audio_file(AUDIO / name)
    return resample(audio, rate, SAMPLE_RATE_HZ)


def test_clean_speech_scores_well_and_noise_scores_badly():
    speech = dnsmos(recording_16k("english.wav"))
    assert speech is not None
    assert 3.0 <= speech.ovrl <= 5.0
    rng = np.random.default_rng(7)
    noise = (rng.standard_normal(SAMPLE_RATE_HZ * 3) * 8000).astype(np.int16)
    noisy = dnsmos(noise)
    assert noisy is not None
    assert noisy.ovrl < speech.ovrl - 1.0
    assert noisy.bak < speech.bak


def test_too_little_audio_is_not_scored():
    assert dnsmos(np.zeros(SAMPLE_RATE_HZ // 4, dtype=np.int16)) is None


def test_a_sampled_turn_costs_one_model_run_whatever_its_length():
    lecture = recording_16k("lecture60.wav")
    dnsmos(lecture[: SAMPLE_RATE_HZ * 2])  # load the model first
    started = time.process_time()
    assert dnsmos(lecture) is not None
    assert time.process_time() - started < 2.0  # ~0.2 s here; 60 windows would be ~9 s


@pytest.mark.django_db(transaction=True)
def test_the_task_scores_audio_it_is_handed_and_keeps_only_the_scores(org_alpha: Any) -> None:
    audio, rate = read_audio_file(AUDIO / "english.wav")
    with schema_context(org_alpha.schema_name):
        conversation = Conversation.objects.create()
    encoded = base64.b64encode(audio.astype(np.int16).tobytes()).decode("ascii")
    overall = score_audio_mos.apply(
        args=(org_alpha.schema_name, str(conversation.pk), "item_x", "input", encoded, rate)
    ).get()
    with schema_context(org_alpha.schema_name):
        (score,) = MosScore.objects.filter(conversation=conversation)
    assert score.ovrl == overall
    assert (score.item_id, score.direction) == ("item_x", "input")
    assert 1.0 <= score.sig <= 5.0
    assert score.audio_s == pytest.approx(len(audio) / rate, abs=0.05)
