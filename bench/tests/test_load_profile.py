"""The load benchmark's profile by stage: py-spy on a real process, each sample to one stage."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from bench.load_profile import OTHER, merge, profiling, stage_of, summarize

# A process that spends its time in the echo guard, as a server's event loop does while
# answers play: 20 ms chunks of noise against a playing reference.
ECHO_WORK = """
import numpy as np
from voice.engine.audio.echo import EchoGuard
guard, rng = EchoGuard(), np.random.default_rng(0)
print("ready", flush=True)
while True:
    noise = rng.normal(0, 2000, 320).astype(np.int16)
    guard.process(noise, noise)
"""


def test_a_sample_counts_for_the_most_specific_stage_in_its_stack():
    echo_in_audio_append = [
        "run (twisted/internet/asyncioreactor.py:271)",
        "audio_append (voice/realtime/handlers.py:40)",
        "process (voice/engine/audio/echo.py:220)",
    ]
    reading_a_frame = [
        "run (twisted/internet/asyncioreactor.py:271)",
        "doRead (twisted/internet/tcp.py:250)",
    ]

    assert stage_of(echo_in_audio_append) == "echo guard"
    assert stage_of(reading_a_frame) == "WebSocket frames and sockets (server)"
    # The reactor under everything is no stage of its own.
    assert stage_of(["run (twisted/internet/asyncioreactor.py:271)"]) == OTHER


def test_a_torn_frame_name_in_py_spys_output_costs_only_its_own_stack(tmp_path):
    raw = tmp_path / "server.txt"
    raw.write_bytes(
        b"run (twisted/internet/asyncioreactor.py:271);process (voice/engine/audio/echo.py:220) 7\n"
        b"run (twisted/internet/asyncioreactor.py:271);\xf8\xf4 (?:0) 2\n"
    )

    summary = summarize([raw])

    assert summary["samples"] == 9
    assert summary["stage_share"] == {"echo guard": 0.778, OTHER: 0.222}


def test_the_profile_of_a_process_busy_in_the_echo_guard_says_so():
    worker = subprocess.Popen([sys.executable, "-c", ECHO_WORK], stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
        with profiling([psutil.Process(worker.pid)], rate_hz=100) as outputs:
            time.sleep(3)
    finally:
        worker.kill()
        worker.wait()

    summary = summarize(outputs)

    assert summary["samples"] > 50, summary
    assert max(summary["stage_share"], key=summary["stage_share"].get) == "echo guard", summary
    assert merge([summary, summary])["stage_share"] == summary["stage_share"]
