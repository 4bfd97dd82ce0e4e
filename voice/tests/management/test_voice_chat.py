"""`manage.py voice_chat`: one spoken turn from a recording, with no server and no database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT, TEST_AUDIO
from voice.engine.audio.files import read_audio_file

pytestmark = pytest.mark.models


def voice_chat(*args: str) -> subprocess.CompletedProcess[str]:
    # A database nobody listens on: the command must not need one.
    env = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none"}
    return subprocess.run(
        [sys.executable, "manage.py", "voice_chat", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_a_recording_is_heard_answered_and_the_spoken_reply_written(tmp_path: Path) -> None:
    out = tmp_path / "reply.wav"
    done = voice_chat(str(TEST_AUDIO / "jfk.flac"), "--out", str(out), "--silence-ms", "1200")
    assert done.returncode == 0, done.stderr
    said = next(line for line in done.stdout.splitlines() if line.startswith("you said:"))
    assert "ask not what your country can do for you" in said.lower()
    assert "voice to voice" in done.stdout
    reply, rate_hz = read_audio_file(out)
    assert rate_hz == 24_000
    assert len(reply) > rate_hz // 2  # at least half a second of speech


def test_a_file_that_is_not_audio_is_refused_in_one_line(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.wav"
    bogus.write_text("not audio at all")
    done = voice_chat(str(bogus))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "invalid_audio: cannot read audio file notes.wav" in done.stderr
