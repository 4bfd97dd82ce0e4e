"""What the echo guard costs the event loop: CPU per audio second, and per chunk (median, p95).

    .venv/bin/python -m bench.echo_guard [--seconds 30] [--chunks-ms 20 100]

The guard runs on the event loop for every microphone chunk of every session, so its cost is
per chunk (numpy calls) as much as per sample. Scenarios, each --seconds long, on real speech
from testdata/audio (english.wav is the answer playing, jfk.flac the person):
    silent microphone   the answer plays, the microphone hears nothing (headphones)
    echo, noise, person the answer's echo (100 ms late, -10 dB) in noise, the person speaking
                        over it from 8 s
    noise, no echo      the answer plays, the microphone hears only noise
    nothing playing     no reference: the guard between answers
Reported per scenario and chunk size: process CPU per second of audio (ms) and the wall time
of one `process` call (median and p95, µs), with the machine's core count.

To compare with another revision's guard, run this file with that checkout first on the path
(`PYTHONPATH=/path/to/checkout .venv/bin/python bench/echo_guard.py`): it uses only
`EchoGuard(assume_no_echo=...)` and `process(mic, reference)`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from voice.engine.audio.echo import EchoGuard
from voice.engine.audio.files import read_audio_file
from voice.engine.audio.resample import resample
from voice.engine.config import PIPELINE_RATE_HZ

Audio = npt.NDArray[np.int16]
TEST_AUDIO = Path(__file__).resolve().parent.parent / "testdata" / "audio"
RESULTS = Path(__file__).resolve().parent / "results"


def load_16k(name: str) -> Audio:
    audio, rate_hz = read_audio_file(TEST_AUDIO / name)
    return resample(audio, rate_hz, PIPELINE_RATE_HZ)


def scenarios(seconds: int) -> dict[str, tuple[Audio, Audio | None]]:
    """Microphone and reference signals of each scenario (None: nothing plays)."""
    length = seconds * PIPELINE_RATE_HZ
    answer = np.resize(load_16k("english.wav"), length)
    noise = np.random.default_rng(1).normal(0, 200, length)
    delay = PIPELINE_RATE_HZ // 10
    echo = np.concatenate([np.zeros(delay), answer[:-delay] * 0.3])
    person = np.zeros(length)
    jfk = load_16k("jfk.flac")[: length - 8 * PIPELINE_RATE_HZ]
    person[8 * PIPELINE_RATE_HZ : 8 * PIPELINE_RATE_HZ + len(jfk)] = jfk

    def pcm(signal: npt.NDArray[np.float64]) -> Audio:
        return np.clip(signal, -32768, 32767).astype(np.int16)

    return {
        "silent microphone": (np.zeros(length, dtype=np.int16), answer),
        "echo, noise, person": (pcm(echo + noise + person), answer),
        "noise, no echo": (pcm(noise), answer),
        "nothing playing": (pcm(noise + person), None),
    }


def measure(mic: Audio, reference: Audio | None, chunk: int) -> dict[str, float]:
    guard = EchoGuard()
    calls_us = []
    started_cpu = time.process_time()
    for start in range(0, len(mic) - chunk + 1, chunk):
        ref = None if reference is None else reference[start : start + chunk]
        called = time.perf_counter_ns()
        guard.process(mic[start : start + chunk], ref)
        calls_us.append((time.perf_counter_ns() - called) / 1000)
    cpu_s = time.process_time() - started_cpu
    return {
        "cpu_ms_per_audio_s": round(cpu_s * 1000 / (len(mic) / PIPELINE_RATE_HZ), 2),
        "call_us_median": round(statistics.median(calls_us), 1),
        "call_us_p95": round(statistics.quantiles(calls_us, n=20)[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--chunks-ms", type=int, nargs="+", default=[20, 100])
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    for name, (mic, reference) in scenarios(args.seconds).items():
        for chunk_ms in args.chunks_ms:
            chunk = PIPELINE_RATE_HZ * chunk_ms // 1000
            rows.append({"scenario": name, "chunk_ms": chunk_ms, **measure(mic, reference, chunk)})
    print(f"{os.cpu_count()} cores, {platform.machine()}, load average {os.getloadavg()[0]:.2f}")
    print("\n| scenario | chunk | CPU per audio second | one call, median / p95 |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['scenario']} | {row['chunk_ms']} ms | {row['cpu_ms_per_audio_s']:.2f} ms | "
            f"{row['call_us_median']:.0f} / {row['call_us_p95']:.0f} µs |"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "echo_guard.json").write_text(
        json.dumps({"cores": os.cpu_count(), "rows": rows}, indent=2)
    )


if __name__ == "__main__":
    main()
