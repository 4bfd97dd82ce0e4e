"""The command line of `bench/load.py` (its docstring tells what each mode does)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.load_setup import REPO_ROOT
from core.processes import ASGI_SERVERS
from voice.engine.compute import cpu_count


def parse_args(doc: str) -> argparse.Namespace:
    """bench/load.py's command line (`doc`: its docstring)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--chunk-ms", type=int, default=100)
    parser.add_argument(
        "--ramp-s", type=float, default=None, help="spread of session starts (15 s; ratio: 5 s)"
    )
    parser.add_argument("--recording", default="english.wav")
    parser.add_argument(
        "--servers", type=int, default=1, help="server processes (one per core, as deployed)"
    )
    parser.add_argument("--server", choices=ASGI_SERVERS, default="daphne", help="ASGI server")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    parser.add_argument(
        "--baseline-rev", default=None, help="A/B: also run this git revision's servers"
    )
    parser.add_argument(
        "--vs-server", choices=ASGI_SERVERS, default=None, help="A/B: B serves this tree on it"
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs per variant (alternated)")
    parser.add_argument("--profile", action="store_true", help="py-spy the servers, by stage")
    parser.add_argument("--profile-rate", type=int, default=50, help="py-spy samples a second")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="each server on a core of its own, the load client and simulator on the others",
    )
    ratio = parser.add_argument_group("ratio mode: sessions held at one p99, N processes vs 1")
    ratio.add_argument("--ratio", action="store_true", help="run the ratio mode")
    ratio.add_argument("--compare", type=int, nargs="+", default=[1, 3], metavar="N")
    ratio.add_argument("--target-p99-ms", type=float, default=50.0)
    ratio.add_argument("--start-sessions", type=int, default=10)
    ratio.add_argument("--growth", type=float, default=1.5)
    ratio.add_argument("--max-sessions", type=int, default=300)
    ratio.add_argument(
        "--resolution", type=float, default=0.1, help="bisect until within this fraction"
    )
    args = parser.parse_args()
    if args.vs_server and args.baseline_rev:
        parser.error("--vs-server compares servers on this tree: not with --baseline-rev")
    # The machine's, counted before --pin narrows this process to the load client's cores.
    args.cores = cpu_count()
    if args.pin and (args.ratio or args.servers >= args.cores):
        parser.error("--pin needs a core left for the load client (and no --ratio)")
    if args.ramp_s is None:
        args.ramp_s = 5.0 if args.ratio else 15.0
    return args
