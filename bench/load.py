"""Many concurrent realtime sessions against AURA server processes: what AURA itself adds.

    .venv/bin/python -m bench.load [--sessions 200] [--turns 2] [--out bench/results]
        [--server daphne|uvicorn]

Needs PostgreSQL and Redis (as `make run` does) and the migrated development database. The
script provisions an organization `loadbench` whose agent's STT, LLM and TTS routes all point
at the OpenAI-protocol simulator (bench/openai_simulator.py) with fixed, realistic delays,
starts the simulator and --servers server processes (one per core, as a deployment runs
them behind a load balancer; --server picks daphne, the default, or uvicorn on uvloop with
the same limits: core/processes.py), then opens N WebSocket sessions (ramped up over
--ramp-s seconds). Each session speaks a real recording from testdata/audio in real time, as
`input_audio_buffer.append` events of --chunk-ms, keeps its microphone open with silence, and
waits for the spoken answer, --turns times.

Reported (p50/p95/p99 over all turns):
- voice to voice: from the end of the user's speech to the first answer audio at the client;
- server-added: voice to voice under load minus what one session alone gets on the same server
  (measured first), i.e. what concurrency costs: queueing, event-loop lag, CPU contention;
- fixed overhead: that lone session's voice to voice minus the floor that the simulated
  providers and the end-of-turn silence impose (see `floor_ms`): AURA's own per-turn cost;
- the server's event-loop lag (from its /metrics), memory per session, and errors;
- server CPU per session-second: the server processes' CPU time during the run over the sum
  of the sessions' durations (0.05 = 5% of a core per live conversation);
- provider requests per turn, by stage (stt, llm, tts), as the simulator counted them: more
  than one per turn is speculation that the next word abandoned.
- with --profile: where the servers' Python time went, by stage (py-spy, load_profile.py).
Client and server share the machine, so the figures are an upper bound of AURA's overhead.
With --pin each server process gets a core of its own and the load client and simulator the
other cores: what a server does on a machine with cores to spare for everything else.

A/B against another revision in the same run (on a shared machine only a side-by-side ratio
holds):

    .venv/bin/python -m bench.load --sessions 100 --servers 2 --baseline-rev 945a70a --rounds 2

checks the revision out with `git worktree add` into a temporary directory, migrates a database
of its own for it (`<this database>_baseline`, made anew each run: the schemas differ between
revisions), provisions the benchmark organization there with that tree's code, starts that
tree's daphne processes next to this tree's (same virtualenv, Redis and simulator) and alternates
the runs A (baseline), B (this tree), A, B, ...; each variant's figures pool its rounds, and
the report ends with B/A ratios. Both variants run on --server.

A/B of the ASGI server, this tree on both, in the same run and with the same reporting
(A = --server, B = --vs-server):

    .venv/bin/python -m bench.load --sessions 100 --servers 2 --vs-server uvicorn --rounds 2

Ratio mode (scale-out across processes; bench/ratio.py):

    .venv/bin/python -m bench.load --ratio [--target-p99-ms 50] [--compare 1 3]

For each process count in --compare, starts that many daphne processes and finds the most
sessions they hold with a server-added p99 at or under --target-p99-ms and no errors: the
session count grows by --growth from --start-sessions until the p99 goes over the target (or
--max-sessions), then a bisection between the last level held and the first one lost narrows it
to --resolution. Reports every level measured, the capacity of each process count, the ratio
capacity(last)/capacity(first), os.cpu_count(), the load average before and after, and per level
the CPU share of processes that are not the benchmark's (other work on a shared machine moves
the figures; it is recorded, not controlled). Figures and caveats: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench import load_profile
from bench.load_args import parse_args
from bench.load_baseline import checkout, prepare_baseline
from bench.load_client import SessionResult, drive, lone_voice_to_voice_ms
from bench.load_measure import (
    cpu_seconds,
    lag_quantile,
    percentiles,
    reset_simulator,
    scrape_all,
    simulator_requests,
)
from bench.load_setup import (
    LLM_FIRST_TOKEN_MS,
    REPO_ROOT,
    TTS_FIRST_AUDIO_MS,
    Servers,
    floor_ms,
    load_utterance,
    pin_to_cores,
    start_servers,
    start_simulated_bench,
)


@dataclass
class Variant:
    """One code base under test: its servers and what one session alone gets from them."""

    name: str
    servers: Servers
    key: str
    lone_voice_to_voice_ms: float


@dataclass
class Run:
    """One load run against one variant."""

    results: list[SessionResult]
    elapsed_s: float
    server_cpu_s: float
    simulator_cpu_s: float
    client_cpu_s: float
    rss_bytes: tuple[int, int]
    lag: tuple[dict[float, float], dict[float, float]]
    provider_requests: dict[str, float]
    load_average: tuple[float, float]
    profile: dict[str, Any] | None = None


def measure(
    args: argparse.Namespace,
    variant: Variant,
    utterance: bytes,
    sim_admin: str,
    simulator: psutil.Process,
) -> Run:
    servers = variant.servers
    reset_simulator(sim_admin)
    lag_before = scrape_all(servers.bases)
    rss_before = sum(server.memory_info().rss for server in servers.processes)
    client = psutil.Process()
    load_before = os.getloadavg()[0]
    cpu_before = [cpu_seconds(group) for group in (servers.processes, [simulator], [client])]
    started = time.monotonic()
    with ExitStack() as recording:
        profiles = None
        if args.profile:
            recorder = load_profile.profiling(servers.processes, args.profile_rate)
            profiles = recording.enter_context(recorder)
        results = asyncio.run(
            drive(
                servers.urls,
                variant.key,
                utterance,
                sessions=args.sessions,
                turns=args.turns,
                chunk_ms=args.chunk_ms,
                ramp_s=args.ramp_s,
            )
        )
    elapsed_s = time.monotonic() - started
    cpu_after = [cpu_seconds(group) for group in (servers.processes, [simulator], [client])]
    server_s, simulator_s, client_s = (a - b for a, b in zip(cpu_after, cpu_before, strict=True))
    return Run(
        results=results,
        elapsed_s=elapsed_s,
        server_cpu_s=server_s,
        simulator_cpu_s=simulator_s,
        client_cpu_s=client_s,
        rss_bytes=(rss_before, sum(server.memory_info().rss for server in servers.processes)),
        lag=(lag_before, scrape_all(servers.bases)),
        provider_requests=simulator_requests(sim_admin),
        load_average=(load_before, os.getloadavg()[0]),
        profile=load_profile.summarize(profiles) if profiles is not None else None,
    )


def summarize(args: argparse.Namespace, variant: Variant, runs: list[Run]) -> dict[str, Any]:
    """One variant's figures, pooled over its runs."""
    results = [result for run in runs for result in run.results]
    turns = [turn for result in results for turn in result.turns]
    errors = [error for result in results for error in result.errors]
    v2v = [turn.voice_to_voice_ms for turn in turns]
    baseline_ms = variant.lone_voice_to_voice_ms
    session_s = sum(result.duration_s for result in results)
    server_cpu_s = sum(run.server_cpu_s for run in runs)
    requests: dict[str, float] = {}
    for run in runs:
        for stage, count in run.provider_requests.items():
            requests[stage] = requests.get(stage, 0) + count

    def engine(name: str, minus: float = 0.0) -> dict[str, float]:
        values = [t.engine[name] - minus for t in turns if t.engine.get(name) is not None]
        return percentiles(values)

    def lag(q: float) -> float:
        return max(lag_quantile(*run.lag, q) for run in runs)

    return {
        "variant": variant.name,
        "server": variant.servers.server,
        "runs": len(runs),
        "turns_measured": len(turns),
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:10],
        "lone_session_voice_to_voice_ms": baseline_ms,
        "fixed_overhead_ms": baseline_ms - floor_ms(),
        "voice_to_voice_ms": percentiles(v2v),
        "server_added_ms": percentiles([value - baseline_ms for value in v2v]),
        "server_added_p99_per_run_ms": [
            percentiles(
                [t.voice_to_voice_ms - baseline_ms for r in run.results for t in r.turns]
            ).get("p99")
            for run in runs
        ],
        "engine_ms": {
            "voice_to_voice": engine("voice_to_voice_ms"),
            "stt_after_speech_stopped": engine("stt_ms"),
            "llm_first_token_over_simulated": engine("llm_first_token_ms", LLM_FIRST_TOKEN_MS),
            "tts_first_audio_over_simulated": engine("tts_first_audio_ms", TTS_FIRST_AUDIO_MS),
        },
        "event_loop_lag_ms": {"p50_at_most": lag(0.5), "p99_at_most": lag(0.99)},
        # 1.0 = one core busy for each second of each conversation.
        "server_cpu_per_session_second": server_cpu_s / session_s if session_s else None,
        "cpu_seconds": {
            "servers": server_cpu_s,
            "simulator": sum(run.simulator_cpu_s for run in runs),
            "load_client": sum(run.client_cpu_s for run in runs),
            "sessions_total": session_s,
        },
        "server_memory_mb_per_session": statistics.mean(
            (run.rss_bytes[1] - run.rss_bytes[0]) / 2**20 / args.sessions for run in runs
        ),
        # More STT than turns: speculative transcriptions in pauses that were not the end;
        # "stt_audio_s": seconds of audio transcribed per turn.
        "provider_requests_per_turn": {
            stage: round(count / max(1, len(turns)), 2) for stage, count in sorted(requests.items())
        },
        "load_average_1m": [run.load_average for run in runs],
        "profile": load_profile.merge([run.profile for run in runs if run.profile is not None]),
        "elapsed_s": sum(run.elapsed_s for run in runs),
        # Every turn, for finding where the slow ones lost their time (not printed).
        "turns": [{"client_voice_to_voice_ms": t.voice_to_voice_ms, **t.engine} for t in turns],
    }


def ratios(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float | None]:
    """B over A for the figures an A/B is run for."""

    def over(value_b: float | None, value_a: float | None) -> float | None:
        return round(value_b / value_a, 3) if value_a and value_b is not None else None

    figures = {
        "server_cpu_per_session_second": over(
            b["server_cpu_per_session_second"], a["server_cpu_per_session_second"]
        )
    }
    for quantile in ("p50", "p95", "p99"):
        figures[f"voice_to_voice_{quantile}"] = over(
            b["voice_to_voice_ms"].get(quantile), a["voice_to_voice_ms"].get(quantile)
        )
    return figures


def start_variant(
    stack: ExitStack,
    args: argparse.Namespace,
    name: str,
    tree: Path,
    key: str,
    utterance: bytes,
    env: dict[str, str] | None = None,
    server: str | None = None,
) -> Variant:
    logs = args.out / "load-logs"
    label = name.split()[0]
    server = server or args.server
    servers = start_servers(
        stack, args.servers, logs, tree=tree, name=f"{server}-{label}", env=env, server=server
    )
    lone = lone_voice_to_voice_ms(servers.urls[0], key, utterance, args.chunk_ms)
    return Variant(name, servers, key, statistics.median(lone))


def main() -> None:
    args = parse_args(__doc__ or "")
    if args.ratio:
        from bench.ratio import run_ratio

        run_ratio(args)
        return
    utterance = load_utterance(args.recording)
    with ExitStack() as stack:
        bench = start_simulated_bench(stack, args.out / "load-logs")
        key, simulator = bench.key, bench.simulator
        sim_admin = f"http://127.0.0.1:{bench.simulator_port}/_sim"
        variants = []
        if args.baseline_rev:
            tree = stack.enter_context(checkout(args.baseline_rev))
            env, baseline_key = prepare_baseline(tree, bench.simulator_url)
            name = f"A {args.baseline_rev}"
            variants.append(start_variant(stack, args, name, tree, baseline_key, utterance, env))
        if args.vs_server:
            variants.append(
                start_variant(stack, args, f"A {args.server}", REPO_ROOT, key, utterance)
            )
            name, server = f"B {args.vs_server}", args.vs_server
        else:
            name, server = "B this tree", args.server
        variants.append(start_variant(stack, args, name, REPO_ROOT, key, utterance, server=server))
        if args.pin:
            servers = [variant.servers.processes for variant in variants]
            print(pin_to_cores(servers, others=[simulator, psutil.Process()]), flush=True)
        runs: dict[str, list[Run]] = {variant.name: [] for variant in variants}
        for round_index in range(args.rounds):
            for variant in variants:
                print(f"round {round_index + 1}: {variant.name}", flush=True)
                runs[variant.name].append(measure(args, variant, utterance, sim_admin, simulator))
                time.sleep(2)  # sessions closing must not count against the next run
    report(args, [summarize(args, variant, runs[variant.name]) for variant in variants])


def report(args: argparse.Namespace, summaries: list[dict[str, Any]]) -> None:
    output = {
        "sessions": args.sessions,
        "servers": args.servers,
        "turns_per_session": args.turns,
        "chunk_ms": args.chunk_ms,
        "cores": args.cores,
        "machine": platform.machine(),
        "floor_ms": floor_ms(),
        "variants": summaries,
    }
    if len(summaries) == 2:
        output["b_over_a"] = ratios(*summaries)
    printed = {**output, "variants": [{**s, "turns": "..."} for s in summaries]}
    print(json.dumps(printed, indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "-ab" if len(summaries) == 2 else ""
    # daphne's runs keep their old names; another server's, or a server A/B, say so.
    if args.vs_server:
        suffix = f"-{args.server}-vs-{args.vs_server}"
    elif args.server != "daphne":
        suffix = f"-{args.server}{suffix}"
    path = args.out / f"load-{args.sessions}x{args.servers}{suffix}.json"
    path.write_text(json.dumps(output, indent=2))
    print(f"wrote {path}")
    for summary in summaries:
        if summary["profile"]["samples"]:
            print(load_profile.table(summary["variant"], summary["profile"]))
        added = summary["server_added_ms"]
        print(
            f"{summary['variant']} ({summary['server']}): {args.sessions} sessions on "
            f"{args.cores} cores: "
            f"server-added p50/p95/p99 {added.get('p50', 0):.0f}/{added.get('p95', 0):.0f}/"
            f"{added.get('p99', 0):.0f} ms, {summary['errors']} errors, server CPU per "
            f"session-second {summary['server_cpu_per_session_second'] or 0:.4f}, requests "
            f"per turn {summary['provider_requests_per_turn']}, load average "
            f"{summary['load_average_1m']}"
        )


if __name__ == "__main__":
    main()
