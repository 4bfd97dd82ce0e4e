"""What `bench.load` and `bench.ratio` read off a run: percentiles, event-loop lag, CPU time,
and the simulated providers' request counts."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter

import numpy as np
import psutil


def scrape_lag(metrics_url: str) -> dict[float, float]:
    """Cumulative bucket counts of the server's event-loop lag histogram."""
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        text = response.read().decode()
    buckets = {}
    for line in text.splitlines():
        if line.startswith("aura_event_loop_lag_seconds_bucket"):
            bound = line.split('le="')[1].split('"')[0]
            buckets[float("inf") if bound == "+Inf" else float(bound)] = float(line.split()[-1])
    return buckets


def scrape_all(bases: list[str]) -> dict[float, float]:
    total: dict[float, float] = {}
    for base in bases:
        for bound, count in scrape_lag(f"http://{base}/metrics").items():
            total[bound] = total.get(bound, 0.0) + count
    return total


def lag_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """Upper bound (bucket edge, ms) of the q-quantile of the lag samples taken in between."""
    counts = {bound: after[bound] - before.get(bound, 0.0) for bound in sorted(after)}
    total = counts[float("inf")]
    for bound, count in counts.items():
        if total and count >= q * total:
            return bound * 1000
    return 0.0


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    array = np.array(values)
    return {
        "p50": float(np.percentile(array, 50)),
        "p95": float(np.percentile(array, 95)),
        "p99": float(np.percentile(array, 99)),
        "max": float(array.max()),
    }


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User plus system CPU time the processes have used so far (gone ones count 0)."""
    total = 0.0
    for measured in processes:
        try:
            times = measured.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores)."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def reset_simulator(admin_url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{admin_url}/reset", method="POST"))


def simulator_requests(admin_url: str) -> dict[str, float]:
    """The simulator's request counts since its last reset, per stage ("sim-stt+..." is stt),
    and the seconds of audio sent for transcription, as "stt_audio_s" (what a cloud STT bills)."""
    with urllib.request.urlopen(f"{admin_url}/requests", timeout=10) as answer:
        log = json.load(answer)
    by_stage: Counter[str] = Counter()
    for model, count in log["counts"].items():
        by_stage[model.split("+")[0].removeprefix("sim-")] += count
    return {**by_stage, "stt_audio_s": float(log["transcribed_audio_s"])}
