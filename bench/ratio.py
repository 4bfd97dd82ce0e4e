"""Sessions held at one p99 by N server processes versus one: the scale-out ratio.

Run through `python -m bench.load --ratio` (bench/load.py's docstring has the flags). For each
process count, the capacity is the largest session count measured whose server-added p99 stays
at or under the target with no errors. The session count grows geometrically until a level is
lost, then a bisection between the last level held and the first one lost narrows it down.
"Server-added" is voice to voice minus one baseline shared by every process count: the fastest
of three turns of a lone session on the first configuration (the minimum, not the median: on a
shared machine a lone session also picks up other people's load, and the least disturbed turn
is the best estimate of an idle server). One reference for all makes "the same p99" the same
absolute voice-to-voice p99 for each process count. The processes are `--server`'s (daphne or
uvicorn).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field

import psutil

from bench.load_client import drive, lone_voice_to_voice_ms
from bench.load_measure import busy_cpu_s, cpu_seconds, lag_quantile, percentiles, scrape_all
from bench.load_setup import (
    Servers,
    floor_ms,
    load_utterance,
    start_servers,
    start_simulated_bench,
)
from voice.engine.compute import cpu_count

# Sessions still closing from one level must not count against the next.
SETTLE_S = 2.0


@dataclass
class Level:
    """One load level: this many sessions at once, and what the server added."""

    sessions: int
    turns_measured: int
    errors: int
    server_added_ms: dict[str, float]
    voice_to_voice_ms: dict[str, float]
    event_loop_lag_p99_at_most_ms: float
    # Of the whole machine (100 = every core busy), and the part of it that was not this
    # benchmark's processes: other people's work on a shared machine.
    machine_cpu_percent: float
    others_cpu_percent: float
    elapsed_s: float
    error_kinds: list[str] = field(default_factory=list)

    def held(self, target_p99_ms: float) -> bool:
        p99 = self.server_added_ms.get("p99")
        return self.errors == 0 and p99 is not None and p99 <= target_p99_ms


def search_capacity(
    measure: Callable[[int], Level],
    *,
    target_p99_ms: float,
    start: int,
    growth: float,
    maximum: int,
    resolution: float,
) -> tuple[int, list[Level]]:
    """The most sessions held at the target p99 (0 if even the smallest level is lost)."""
    levels: list[Level] = []
    held, lost = 0, None
    sessions = start
    while True:
        level = measure(sessions)
        levels.append(level)
        if not level.held(target_p99_ms):
            lost = sessions
            break
        held = sessions
        if sessions >= maximum:
            break
        sessions = min(maximum, max(sessions + 1, round(sessions * growth)))
    while lost is not None and lost - held > max(1.0, held * resolution):
        middle = (held + lost) // 2
        level = measure(middle)
        levels.append(level)
        if level.held(target_p99_ms):
            held = middle
        else:
            lost = middle
    return held, levels


def measure_level(
    args: argparse.Namespace,
    own: list[psutil.Process],
    servers: Servers,
    key: str,
    utterance: bytes,
    baseline_ms: float,
    sessions: int,
) -> Level:
    time.sleep(SETTLE_S)
    lag_before = scrape_all(servers.bases)
    busy_before, own_before = busy_cpu_s(), cpu_seconds(own)
    started = time.monotonic()
    results = asyncio.run(
        drive(
            servers.urls,
            key,
            utterance,
            sessions=sessions,
            turns=args.turns,
            chunk_ms=args.chunk_ms,
            ramp_s=args.ramp_s,
        )
    )
    elapsed_s = time.monotonic() - started
    capacity_s = elapsed_s * (os.cpu_count() or 1)
    busy_s = busy_cpu_s() - busy_before
    others_s = max(0.0, busy_s - (cpu_seconds(own) - own_before))
    lag_after = scrape_all(servers.bases)
    v2v = [turn.voice_to_voice_ms for result in results for turn in result.turns]
    errors = [error for result in results for error in result.errors]
    level = Level(
        sessions=sessions,
        turns_measured=len(v2v),
        errors=len(errors),
        server_added_ms=percentiles([value - baseline_ms for value in v2v]),
        voice_to_voice_ms=percentiles(v2v),
        event_loop_lag_p99_at_most_ms=lag_quantile(lag_before, lag_after, 0.99),
        machine_cpu_percent=100 * busy_s / capacity_s,
        others_cpu_percent=100 * others_s / capacity_s,
        elapsed_s=elapsed_s,
        error_kinds=sorted(set(errors))[:5],
    )
    added = level.server_added_ms
    print(
        f"  {len(servers.bases)} process(es), {sessions:4d} sessions: server-added "
        f"p50 {added.get('p50', float('nan')):6.0f} / p95 {added.get('p95', float('nan')):6.0f}"
        f" / p99 {added.get('p99', float('nan')):6.0f} ms, {len(errors)} errors, "
        f"machine CPU {level.machine_cpu_percent:.0f}% "
        f"(others {level.others_cpu_percent:.0f}%), "
        f"{'held' if level.held(args.target_p99_ms) else 'lost'}",
        file=sys.stderr,
        flush=True,
    )
    return level


def run_ratio(args: argparse.Namespace) -> None:
    utterance = load_utterance(args.recording)
    logs = args.out / "load-logs"
    load_average_before = os.getloadavg()
    started = time.monotonic()
    configurations = []
    baseline_ms: float | None = None
    with ExitStack() as outer:
        bench = start_simulated_bench(outer, logs)
        key, simulator = bench.key, bench.simulator
        for count in args.compare:
            with ExitStack() as stack:
                servers = start_servers(stack, count, logs, server=args.server)
                own = [psutil.Process(), simulator, *servers.processes]
                if baseline_ms is None:
                    baseline_ms = min(
                        lone_voice_to_voice_ms(servers.urls[0], key, utterance, args.chunk_ms)
                    )
                measure = functools.partial(
                    measure_level, args, own, servers, key, utterance, baseline_ms
                )
                capacity, levels = search_capacity(
                    measure,
                    target_p99_ms=args.target_p99_ms,
                    start=args.start_sessions,
                    growth=args.growth,
                    maximum=args.max_sessions,
                    resolution=args.resolution,
                )
            configurations.append(
                {
                    "processes": count,
                    "capacity_sessions": capacity,
                    "reached_max_sessions": capacity >= args.max_sessions,
                    "levels": [asdict(level) for level in levels],
                }
            )
    first, last = configurations[0], configurations[-1]
    ratio = (
        last["capacity_sessions"] / first["capacity_sessions"]
        if first["capacity_sessions"]
        else None
    )
    summary = {
        "command": shlex.join([sys.executable, "-m", "bench.load", *sys.argv[1:]]),
        "server": args.server,
        "target_server_added_p99_ms": args.target_p99_ms,
        "lone_session_voice_to_voice_ms": baseline_ms,
        "floor_ms": floor_ms(),
        "turns_per_session": args.turns,
        "ramp_s": args.ramp_s,
        "cores_os_cpu_count": os.cpu_count(),
        "cores_usable": cpu_count(),
        "machine": platform.machine(),
        "load_average_before": load_average_before,
        "load_average_after": os.getloadavg(),
        "configurations": configurations,
        "ratio": ratio,
        "ratio_of": f"{last['processes']} processes / {first['processes']}",
        "elapsed_s": time.monotonic() - started,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    server = "" if args.server == "daphne" else f"-{args.server}"
    path = args.out / f"load-ratio-p99-{args.target_p99_ms:g}ms{server}.json"
    path.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    print(f"wrote {path}")
    print(f"\nsessions held at server-added p99 <= {args.target_p99_ms:g} ms, no errors:")
    for configuration in configurations:
        print(f"  {configuration['processes']} process(es): {configuration['capacity_sessions']}")
    shown = "n/a (the first configuration held nothing)" if ratio is None else f"{ratio:.2f}"
    print(
        f"ratio {summary['ratio_of']}: {shown} on {os.cpu_count()} cores "
        f"(load average {load_average_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after)"
    )
