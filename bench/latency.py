"""Voice-to-voice latency of the full local pipeline on real recordings, paced in real time.

    .venv/bin/python -m bench.latency [--rounds 5] [--out bench/results]

The recordings in testdata/audio are cut into utterances where the engine's own turn detector
would end a turn; each turn streams one utterance into a fresh engine session at microphone
pace, followed by silence, and waits for the spoken answer. Prints p50/p95 per stage and
voice-to-voice with the machine's core count, and writes latency.json and latency.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from voice.engine.assembly import build_voice_session, warm_up
from voice.engine.audio.files import read_audio_file
from voice.engine.audio.resample import resample
from voice.engine.compute import cpu_count
from voice.engine.config import PIPELINE_RATE_HZ, AgentConfig, TurnDetectionConfig
from voice.engine.recording import TurnResult, run_turn
from voice.engine.vad.turn_detector import SpeechStarted, SpeechStopped, TurnDetector

REPO_ROOT = Path(__file__).resolve().parent.parent

TEST_AUDIO = REPO_ROOT / "testdata" / "audio"
# Recording → how many of its utterances to use (lecture60 has dozens).
RECORDINGS = {"english.wav": 3, "jfk.flac": 3, "lecture60.wav": 6}
# Audio kept around each utterance, as a microphone would have it.
UTTERANCE_PAD_MS = 200
STAGES = (
    ("stt_ms", "speech end → transcript"),
    ("llm_first_token_ms", "transcript → first token"),
    ("first_clause_ms", "transcript → first clause"),
    ("tts_first_audio_ms", "first clause → first audio"),
    ("voice_to_voice_ms", "voice to voice (engine)"),
    ("client_voice_to_voice_ms", "voice to voice (client)"),
)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def turn_row(name: str, result: TurnResult) -> dict[str, Any]:
    metrics = result.metrics
    row: dict[str, Any] = {
        "recording": name,
        "transcript": result.transcript,
        "reply": result.reply_text,
        "status": result.status,
        "errors": result.errors,
        "client_voice_to_voice_ms": result.client_voice_to_voice_ms,
    }
    if metrics is not None:
        for field in (
            "stt_ms",
            "llm_first_token_ms",
            "first_clause_ms",
            "tts_first_audio_ms",
            "voice_to_voice_ms",
        ):
            row[field] = getattr(metrics, field)
        row["speculative"] = metrics.speculative
    return row


def summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    table = {}
    for field, _label in STAGES:
        values = [row[field] for row in rows if row.get(field) is not None]
        if values:
            table[field] = {
                "p50": percentile(values, 50),
                "p95": percentile(values, 95),
                "mean": statistics.fmean(values),
                "n": len(values),
            }
    return table


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = [row["voice_to_voice_ms"] for row in rows if row.get("voice_to_voice_ms") is not None]
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.hist(values, bins=min(20, max(5, len(values))), color="#4062bb")
    axis.axvline(1000, color="#d1495b", linestyle="--", label="goal p50 ≤ 1.0 s")
    axis.set_xlabel("voice-to-voice latency (ms), end-of-turn silence included")
    axis.set_ylabel("turns")
    axis.set_title(f"AURA local pipeline, {cpu_count()} cores")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


CONFIG = AgentConfig(
    instructions="You are a helpful voice assistant. Answer in one short sentence."
)


def utterances(audio: npt.NDArray[np.int16], rate_hz: int) -> list[npt.NDArray[np.int16]]:
    """The recording cut where the turn detector (with CONFIG's settings) ends turns."""
    detection = CONFIG.turn_detection or TurnDetectionConfig()
    detector = TurnDetector(detection)
    tail = np.zeros(PIPELINE_RATE_HZ * 2, dtype=np.int16)
    events = detector.process(np.concatenate([resample(audio, rate_hz, PIPELINE_RATE_HZ), tail]))
    pieces = []
    start_ms: int | None = None
    for event in events:
        if isinstance(event, SpeechStarted):
            start_ms = event.audio_start_ms
        elif isinstance(event, SpeechStopped) and start_ms is not None:
            end_ms = event.audio_end_ms - detection.silence_duration_ms
            first = max(0, (start_ms - UTTERANCE_PAD_MS) * rate_hz // 1000)
            last = (end_ms + UTTERANCE_PAD_MS) * rate_hz // 1000
            pieces.append(audio[first:last])
            start_ms = None
    return pieces


async def measure(rounds: int) -> list[dict[str, Any]]:
    await warm_up(CONFIG)
    rate_hz = CONFIG.input_format.sample_rate_hz
    turns: list[tuple[str, npt.NDArray[np.int16]]] = []
    for name, count in RECORDINGS.items():
        audio, source_rate_hz = read_audio_file(TEST_AUDIO / name)
        pieces = utterances(resample(audio, source_rate_hz, rate_hz), rate_hz)[:count]
        turns += [(f"{name}#{index + 1}", piece) for index, piece in enumerate(pieces)]
    rows = []
    for round_index in range(rounds):
        for name, audio in turns:
            async with build_voice_session(CONFIG) as session:
                result = await run_turn(session, audio, CONFIG.input_format)
            rows.append(turn_row(name, result))
            v2v = rows[-1].get("voice_to_voice_ms")
            shown = "—" if v2v is None else f"{v2v:.0f} ms"
            heard, said = result.transcript, result.reply_text
            print(f"round {round_index + 1} {name:<15} v2v {shown}  {heard!r} → {said!r}")
    return rows


def report(rows: list[dict[str, Any]], rounds: int, out_dir: Path) -> None:
    table = summary(rows)
    silence_ms = CONFIG.turn_detection.silence_duration_ms if CONFIG.turn_detection else None
    machine = f"{cpu_count()} cores ({platform.machine()})"
    print(f"\n{len(rows)} turns on {machine}, end-of-turn silence {silence_ms} ms")
    print(f"{'stage':<30} {'p50 ms':>8} {'p95 ms':>8}")
    for field, label in STAGES:
        if field in table:
            print(f"{label:<30} {table[field]['p50']:>8.0f} {table[field]['p95']:>8.0f}")
    out_dir.mkdir(parents=True, exist_ok=True)
    document = {
        "cores": cpu_count(),
        "rounds": rounds,
        "summary": table,
        "turns": rows,
        "compute_threads": os.environ.get("AURA_COMPUTE_THREADS"),
    }
    (out_dir / "latency.json").write_text(json.dumps(document, indent=2))
    plot(rows, out_dir / "latency.png")
    print(f"wrote {out_dir / 'latency.json'} and {out_dir / 'latency.png'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    arguments = parser.parse_args()
    report(asyncio.run(measure(arguments.rounds)), arguments.rounds, arguments.out)
