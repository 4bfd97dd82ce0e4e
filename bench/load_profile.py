"""Where the servers' time goes during a load run: py-spy, summed up by stage.

`bench/load.py --profile` records each server process with py-spy while a run lasts (samples
of the threads holding the GIL, i.e. Python at work, at --profile-rate Hz, without pausing the
process) and reports the share of samples per stage of the voice path, the first stage in
`STAGES` whose marker is in a sample's stack (so the echo guard counts as itself, not as the
input audio around it), and the hottest functions. py-spy attaches to the bench's own child
processes (ptrace); in a container that needs the SYS_PTRACE capability.
"""

from __future__ import annotations

import collections
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

# (stage, markers): a sample belongs to the first stage one of whose markers (a substring of
# py-spy's "function (file:line)" frames) its stack holds.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("echo guard", ("voice/engine/audio/echo.py",)),
    ("turn detection (VAD)", ("voice/engine/vad/",)),
    ("input audio (decode, resample, front end)", ("audio_append (voice/realtime/handlers.py",)),
    ("client events (parse, dispatch)", ("receive_text (voice/realtime/transport.py",)),
    ("provider HTTP (openai SDK, httpx)", ("openai/", "httpx", "httpcore")),
    ("sending events", ("send_json (", "voice/realtime/pump.py")),
    # Not "twisted/" alone: daphne's whole event loop runs under Twisted's reactor.
    (
        "WebSocket frames and sockets (server)",
        (
            "autobahn/",
            "daphne/ws_protocol.py",
            "twisted/internet/tcp.py",
            "uvicorn/protocols/",
            "websockets/",
        ),
    ),
    ("database", ("tenants/db.py", "django/db/", "psycopg/")),
    ("Redis", ("redis/", "channels_redis/")),
    ("voice engine (other)", ("voice/engine/",)),
]
OTHER = "other"


def py_spy() -> str:
    """py-spy beside this Python (the venv's, pinned) or else on the PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("--profile needs py-spy on the PATH (pip install -r requirements.txt)")
    return found


@contextmanager
def profiling(processes: list[psutil.Process], rate_hz: int) -> Iterator[list[Path]]:
    """Record `processes` while the block runs; yields the raw profiles' paths (written when
    the block ends)."""
    folder = Path(tempfile.mkdtemp(prefix="aura-load-profile-"))
    outputs = [folder / f"{process.pid}.txt" for process in processes]
    recorders = [
        subprocess.Popen(
            [
                py_spy(),
                "record",
                "--pid",
                str(process.pid),
                "--gil",
                "--nonblocking",
                "--rate",
                str(rate_hz),
                "--format",
                "raw",
                "--output",
                str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for process, output in zip(processes, outputs, strict=True)
    ]
    try:
        yield outputs
    finally:
        # py-spy writes its profile when interrupted, as after Ctrl-C.
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)
        for recorder in recorders:
            try:
                recorder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                recorder.kill()


def stage_of(frames: list[str]) -> str:
    for stage, markers in STAGES:
        if any(marker in frame for frame in frames for marker in markers):
            return stage
    return OTHER


def read_samples(paths: list[Path]) -> Iterator[tuple[list[str], int]]:
    """(stack, count) of every line of py-spy's raw (collapsed stack) output."""
    for path in paths:
        if not path.exists():
            continue
        # py-spy reads names out of a running process's memory: a torn read can give bytes
        # that are not UTF-8 (seen with the server busy on another core), which must not
        # lose the run's other samples.
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                yield stack.split(";"), int(count)


def summarize(paths: list[Path], *, top: int = 12) -> dict[str, Any]:
    """Shares of samples per stage and the functions most often on top of the stack."""
    stages: collections.Counter[str] = collections.Counter()
    hottest: collections.Counter[str] = collections.Counter()
    total = 0
    for frames, count in read_samples(paths):
        total += count
        stages[stage_of(frames)] += count
        hottest[frames[-1].strip()] += count
    if not total:
        return {"samples": 0}
    return {
        "samples": total,
        "stage_share": {stage: round(n / total, 3) for stage, n in stages.most_common()},
        "hottest_functions": {name: round(n / total, 3) for name, n in hottest.most_common(top)},
    }


def merge(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Pool runs' summaries, weighting each by its samples."""
    total = sum(summary.get("samples", 0) for summary in summaries)
    if not total:
        return {"samples": 0}
    shares: collections.Counter[str] = collections.Counter()
    for summary in summaries:
        for stage, share in summary.get("stage_share", {}).items():
            shares[stage] += share * summary["samples"]
    return {
        "samples": total,
        "stage_share": {stage: round(n / total, 3) for stage, n in shares.most_common()},
    }


def table(variant: str, summary: dict[str, Any]) -> str:
    lines = [f"{variant}: where the servers' Python time went ({summary['samples']} samples)"]
    for stage, share in summary.get("stage_share", {}).items():
        lines.append(f"  {share:6.1%}  {stage}")
    return "\n".join(lines)
