"""What transcribing phrase by phrase costs in accuracy, and what it saves in audio sent.

    .venv/bin/python -m bench.phrases            # ~1 minute on 2 cores

The "phrases" speculation policy sends the STT each phrase of a turn once (cut 100 ms into
each pause, the earlier phrases' text as the prompt) instead of the whole utterance at every
pause (eager) or once at its end (off). Here the project's recordings with reference
transcripts (testdata/audio: jfk.flac, english.wav) go through the engine's turn detector
(WebRTC VAD, a silence long enough to keep each recording one turn, pauses from 100 ms, as the
policy cuts them) and the local Whisper (tiny.en) transcribes them three ways: the whole turn
once, phrase by phrase as `PhraseTranscripts` does, and phrase by phrase without the earlier
text as the prompt. Reported per recording: phrases, WER (jiwer, normalised words), the texts,
and the seconds of audio each way sends (eager: the utterance so far at every pause).

Prints a markdown table and writes bench/results/phrases.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
from typing import Any

import numpy as np

from bench.noise import REFERENCES, RESULTS, Audio, load_16k, word_error_rate
from voice.engine.config import PIPELINE_RATE_HZ, TurnDetectionConfig
from voice.engine.observability.turn_metrics import TurnTimeline
from voice.engine.pipeline.phrases import PhraseTranscripts
from voice.engine.pipeline.speculation import EAGER_PAUSE_MS
from voice.engine.pipeline.task_set import TaskSet
from voice.engine.ports import MonotonicClock
from voice.engine.stt.base import NO_HINTS, Transcript, TranscriptionHints, TranscriptionRequest
from voice.engine.stt.local_whisper import LocalWhisperSTT
from voice.engine.vad.turn_detector import SilenceStarted, SpeechStopped, TurnDetector

# Longer than any pause in the recordings: each is one turn, cut into phrases at its pauses.
ONE_TURN_SILENCE_MS = 3_000


def turn_and_cuts(audio: Audio) -> tuple[Audio, list[int]]:
    """The recording's turn, and where the policy cuts it (samples into the turn)."""
    config = TurnDetectionConfig(silence_duration_ms=ONE_TURN_SILENCE_MS)
    detector = TurnDetector(config, pause_ms=EAGER_PAUSE_MS)
    padded = np.concatenate([audio, np.zeros(ONE_TURN_SILENCE_MS * 16 * 2, dtype=np.int16)])
    cuts: list[int] = []
    for start in range(0, len(padded), 320):
        for event in detector.process(padded[start : start + 320]):
            if isinstance(event, SilenceStarted):
                cuts.append(len(detector.utterance_so_far()))
            if isinstance(event, SpeechStopped):
                return event.utterance, cuts
    raise SystemExit("the recording never ended a turn")


async def phrase_wise(stt: LocalWhisperSTT, turn: Audio, cuts: list[int], context: bool) -> str:
    async def transcribe(audio: Audio, hints: TranscriptionHints) -> Transcript:
        return await stt.transcribe(
            TranscriptionRequest(audio, language="en", hints=hints if context else NO_HINTS)
        )

    phrases = PhraseTranscripts(transcribe, NO_HINTS, MonotonicClock())
    tasks = TaskSet("bench")
    for cut in cuts:
        phrases.add_up_to(tasks, turn[:cut])
        # As in a session, each phrase is in before the next pause (Whisper is faster than
        # speech), so its text is the next one's prompt.
        await phrases.joined(TurnTimeline())
    transcript = await phrases.joined(TurnTimeline())
    await tasks.close()
    return transcript.text if transcript is not None else ""


async def measure(stt: LocalWhisperSTT, name: str) -> dict[str, Any]:
    turn, cuts = turn_and_cuts(load_16k(name))
    whole = (await stt.transcribe(TranscriptionRequest(turn, language="en"))).text
    with_context = await phrase_wise(stt, turn, cuts, context=True)
    without_context = await phrase_wise(stt, turn, cuts, context=False)
    reference = REFERENCES[name]
    return {
        "recording": name,
        "phrases": len(cuts),
        "turn_s": len(turn) / PIPELINE_RATE_HZ,
        "sent_s": {
            "whole turn once (off)": len(turn) / PIPELINE_RATE_HZ,
            "phrase by phrase (phrases)": cuts[-1] / PIPELINE_RATE_HZ,
            "utterance so far at each pause (eager)": sum(cuts) / PIPELINE_RATE_HZ,
        },
        "wer": {
            "whole turn": word_error_rate(reference, whole),
            "phrase by phrase": word_error_rate(reference, with_context),
            "phrase by phrase, no prompt": word_error_rate(reference, without_context),
        },
        "texts": {
            "whole turn": whole,
            "phrase by phrase": with_context,
            "phrase by phrase, no prompt": without_context,
        },
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| recording | phrases | WER whole / phrases / phrases without prompt "
        "| audio sent: off / phrases / eager |",
        "| --- | --- | --- | --- |",
    ]
    for row in rows:
        wer = " / ".join(f"{value:.0%}" for value in row["wer"].values())
        sent = " / ".join(f"{value:.1f} s" for value in row["sent_s"].values())
        lines.append(f"| {row['recording']} | {row['phrases']} | {wer} | {sent} |")
    return "\n".join(lines)


async def main() -> None:
    stt = await LocalWhisperSTT.load_shared()
    await stt.warm_up()
    rows = [await measure(stt, name) for name in REFERENCES]
    print(f"{os.cpu_count()} cores, {platform.machine()}, local Whisper tiny.en\n")
    print(table(rows))
    for row in rows:
        for way, text in row["texts"].items():
            print(f"  {row['recording']}, {way}: {text!r}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "phrases.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
