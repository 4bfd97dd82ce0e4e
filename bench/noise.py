"""The input front end in noise: WER, VAD false starts and CPU, with and without suppression.

    .venv/bin/python -m bench.noise            # ~1-2 minutes on 2 cores
    .venv/bin/python -m bench.noise --snr 0 5 10 --recordings jfk.flac english.wav

Speech: the project's real recordings with reference transcripts (testdata/audio: jfk.flac,
english.wav). Noise, mixed in at each SNR (speech power over noise power, over the whole
recording):
    white   Gaussian white noise
    babble  two other stretches of real speech (lecture60.wav) talking at once
    hum     a room: mains hum (50 Hz and harmonics) over ventilation-like low-passed noise
For each noise reduction mode (off, near_field, far_field) the mix goes through the engine's
own `NoiseSuppressor` and is transcribed by the local Whisper (tiny.en); WER is jiwer's on
normalised words. VAD false starts: 20 s of the noise alone, at the level it has in the 5 dB
mix, through the engine's turn detector (WebRTC VAD, OpenAI's default server_vad settings):
every turn it starts is false. CPU: process time of the suppressor and of the echo guard per
second of audio, and per 10 ms frame.

Prints markdown tables and writes bench/results/noise.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import numpy.typing as npt
import soundfile

from voice.engine.audio.echo import EchoGuard
from voice.engine.audio.noise import NoiseSuppressor
from voice.engine.audio.resample import resample
from voice.engine.config import PIPELINE_RATE_HZ, NoiseReduction, TurnDetectionConfig
from voice.engine.stt.base import TranscriptionRequest
from voice.engine.stt.local_whisper import LocalWhisperSTT
from voice.engine.vad.turn_detector import SpeechStarted, TurnDetector

Audio = npt.NDArray[np.int16]
REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_AUDIO = REPO_ROOT / "testdata" / "audio"
RESULTS = REPO_ROOT / "bench" / "results"
REFERENCES = {
    "jfk.flac": "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country.",
    "english.wav": "One, two, three.",
}
MODES: tuple[NoiseReduction | None, ...] = (None, "near_field", "far_field")
NOISES = ("white", "babble", "hum")
FALSE_START_NOISE_S = 20


def load_16k(name: str) -> Audio:
    samples, rate_hz = soundfile.read(TEST_AUDIO / name, dtype="int16", always_2d=True)
    return resample(samples.mean(axis=1).astype(np.int16), rate_hz, PIPELINE_RATE_HZ)


def make_noise(kind: str, samples: int, seed: int = 11) -> npt.NDArray[np.float64]:
    """Unit-power noise of `kind`."""
    rng = np.random.default_rng(seed)
    noise: npt.NDArray[np.float64]
    if kind == "white":
        noise = rng.normal(0.0, 1.0, samples)
    elif kind == "babble":
        lecture = load_16k("lecture60.wav").astype(np.float64)
        voices = [np.resize(np.roll(lecture, shift), samples) for shift in (0, 23 * 16_000)]
        noise = voices[0] + voices[1]
    else:
        times_s = np.arange(samples) / PIPELINE_RATE_HZ
        hum = sum(
            np.sin(2 * np.pi * 50 * harmonic * times_s) / harmonic for harmonic in (1, 2, 3, 4)
        )
        ventilation = np.convolve(rng.normal(0.0, 1.0, samples), np.ones(16) / 16, mode="same")
        noise = hum / np.sqrt(np.mean(hum**2)) + 2.0 * ventilation / np.std(ventilation)
    return noise / float(np.sqrt(np.mean(noise**2)))


def mix(speech: Audio, noise: npt.NDArray[np.float64], snr_db: float) -> Audio:
    speech_power = float(np.mean(speech.astype(np.float64) ** 2))
    level = float(np.sqrt(speech_power / 10 ** (snr_db / 10)))
    mixed = speech.astype(np.float64) + level * noise[: len(speech)]
    return np.clip(mixed, -32768, 32767).astype(np.int16)


def suppressed(audio: Audio, mode: NoiseReduction | None) -> tuple[Audio, float]:
    """The audio through the suppressor, and the process CPU seconds it took."""
    if mode is None:
        return audio, 0.0
    started = time.process_time()
    out = NoiseSuppressor(mode).process(audio)
    return out, time.process_time() - started


def normalised(text: str) -> str:
    words = "".join(c.lower() if c.isalnum() or c == "'" else " " for c in text).split()
    numbers = {"1": "one", "2": "two", "3": "three"}
    return " ".join(numbers.get(word, word) for word in words)


def word_error_rate(reference: str, hypothesis: str) -> float:
    hypothesis = normalised(hypothesis)
    return 1.0 if not hypothesis else float(jiwer.wer(normalised(reference), hypothesis))


def false_starts(audio: Audio) -> int:
    detector = TurnDetector(TurnDetectionConfig())
    return sum(isinstance(event, SpeechStarted) for event in detector.process(audio))


async def measure_wer(
    stt: LocalWhisperSTT, recordings: list[str], snrs: list[float]
) -> list[dict[str, Any]]:
    rows = []
    for kind in NOISES:
        for snr_db in snrs:
            for mode in MODES:
                errors = []
                for name in recordings:
                    speech = load_16k(name)
                    noisy = mix(speech, make_noise(kind, len(speech)), snr_db)
                    audio, _cpu = suppressed(noisy, mode)
                    transcript = await stt.transcribe(TranscriptionRequest(audio, language="en"))
                    errors.append(word_error_rate(REFERENCES[name], transcript.text))
                rows.append({"noise": kind, "snr_db": snr_db, "mode": mode or "off", "wer": errors})
                print(f"  {kind:6s} {snr_db:>4} dB {mode or 'off':10s} WER {np.mean(errors):.2f}")
    return rows


def measure_false_starts(recordings: list[str]) -> list[dict[str, Any]]:
    speech_power = np.mean([np.mean(load_16k(n).astype(np.float64) ** 2) for n in recordings])
    level = np.sqrt(speech_power / 10 ** (5 / 10))
    samples = FALSE_START_NOISE_S * PIPELINE_RATE_HZ
    rows = []
    for kind in NOISES:
        noise = np.clip(level * make_noise(kind, samples, seed=29), -32768, 32767)
        for mode in MODES:
            audio, _cpu = suppressed(noise.astype(np.int16), mode)
            rows.append({"noise": kind, "mode": mode or "off", "false_starts": false_starts(audio)})
    return rows


def measure_cpu() -> dict[str, float]:
    """Process CPU per audio second (ms) and per 10 ms frame (us), 60 s of audio each."""
    audio = mix(load_16k("jfk.flac"), make_noise("white", 11 * PIPELINE_RATE_HZ), 5)
    audio = np.resize(audio, 60 * PIPELINE_RATE_HZ)
    costs: dict[str, float] = {}
    for mode in ("near_field", "far_field"):
        suppressor = NoiseSuppressor(mode)
        started = time.process_time()
        for start in range(0, len(audio), 320):
            suppressor.process(audio[start : start + 320])
        costs[mode] = (time.process_time() - started) / 60
    reference = np.resize(load_16k("jfk.flac"), len(audio))
    for label, ref in (("echo guard, answer playing", reference), ("echo guard, idle", None)):
        guard = EchoGuard()
        started = time.process_time()
        for start in range(0, len(audio), 320):
            chunk_ref = None if ref is None else ref[start : start + 320]
            guard.process(audio[start : start + 320], chunk_ref)
        costs[label] = (time.process_time() - started) / 60
    return costs


def table_wer(rows: list[dict[str, Any]], snrs: list[float]) -> str:
    lines = ["| noise | SNR | " + " | ".join(m or "off" for m in MODES) + " |"]
    lines.append("| --- | --- |" + " --- |" * len(MODES))
    for kind in NOISES:
        for snr_db in snrs:
            cells = [
                f"{np.mean(row['wer']):.2f}"
                for mode in MODES
                for row in rows
                if (row["noise"], row["snr_db"], row["mode"]) == (kind, snr_db, mode or "off")
            ]
            lines.append(f"| {kind} | {snr_db:g} dB | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_false_starts(rows: list[dict[str, Any]]) -> str:
    lines = ["| noise (5 dB SNR level) | " + " | ".join(m or "off" for m in MODES) + " |"]
    lines.append("| --- |" + " --- |" * len(MODES))
    for kind in NOISES:
        cells = [str(row["false_starts"]) for row in rows if row["noise"] == kind]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--snr", type=float, nargs="+", default=[0.0, 5.0, 10.0])
    parser.add_argument("--recordings", nargs="+", default=list(REFERENCES))
    args = parser.parse_args()
    started = time.monotonic()
    stt = await LocalWhisperSTT.load_shared()
    await stt.warm_up()
    print("WER (mean over the recordings):")
    wer_rows = await measure_wer(stt, args.recordings, args.snr)
    false_start_rows = measure_false_starts(args.recordings)
    cpu = measure_cpu()
    print(f"\n{os.cpu_count()} cores, {platform.machine()}, {time.monotonic() - started:.0f} s\n")
    print(table_wer(wer_rows, args.snr))
    print(f"\nVAD false starts in {FALSE_START_NOISE_S} s of noise alone:\n")
    print(table_false_starts(false_start_rows))
    print("\n| stage | CPU per audio second | per 10 ms frame |\n| --- | --- | --- |")
    for label, seconds in cpu.items():
        print(f"| {label} | {seconds * 1000:.2f} ms | {seconds * 10_000:.0f} us |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "noise.json").write_text(
        json.dumps(
            {"wer": wer_rows, "false_starts": false_start_rows, "cpu_s_per_audio_s": cpu},
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
