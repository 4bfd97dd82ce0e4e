"""Soak: what a web process keeps after many sessions come and go. Leaks show here.

    .venv/bin/python -m bench.soak [--rounds 2] [--cycles 10000] [--conversations 60] [--turns 10]

Needs PostgreSQL and Redis (as `make run` does) and the migrated development database. It
provisions an organization `soakbench` whose agent answers text through the OpenAI-protocol
simulator, starts the simulator and one daphne process (as the Procfile does), warms it up,
takes a first snapshot, then runs --rounds rounds against the same process, each of:

1. --cycles connect/disconnect cycles (`?aura=1`: session, conversation, resume token and
   snapshot, lease; then gone), --concurrency at a time;
2. a compressed run of --conversations text conversations of --turns turns each;

and a snapshot once the resume window and the leases of the round's last sessions have run out
(short ones here), so that what should be gone is gone. A snapshot holds the server's RSS, open
file descriptors and asyncio tasks (its census log line, AURA_REALTIME_CENSUS_LOG_SECONDS),
AURA's Redis keys and the server's PostgreSQL connections.

Each round's growth is against the snapshot before it. The warm-up is light (50 cycles and one
conversation), so round 1 is where the process reaches the working set of the measured load
(8 clients at a time: its heap, pools and arenas); rounds 2..N run the same load again, and
what they still add is what a leak would look like, per round. Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psutil
from websockets.asyncio.client import connect

from bench.load_setup import daphne_command, process, start_simulator
from core.processes import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
SLUG = "soakbench"
APPLICATION_NAME = "aura-soak"
RESUME_WINDOW_S = 5
LEASE_S = 6
# "After" waits for the resume window and the leases to run out, and for daphne's
# --application-close-timeout (30 s), after which it cancels an application that has not ended
# since its client left (the consumer then closes its session in a task of its own).
SETTLE_S = 32
ID = re.compile(r"[0-9a-f]{16,}|[0-9a-z_-]*\d[0-9a-z_.-]*", re.IGNORECASE)
CENSUS = re.compile(r"census: (\d+) asyncio tasks, (\d+) live sessions")


def provision(simulator_url: str) -> str:
    """The soak organization with a simulator-backed text agent; a fresh sk_ key."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aura_project.settings.dev")
    import django

    django.setup()
    from django_tenants.utils import schema_context

    from tenants.models import Organization
    from tenants.services import api_key_create, organization_create
    from voice.models import Agent

    organization = Organization.objects.filter(slug=SLUG).first() or organization_create(
        slug=SLUG, name="Soak benchmark", plan=Organization.Plan.ENTERPRISE
    )
    route = {"provider": "openai_compatible", "model": "say:Sure.", "base_url": simulator_url}
    with schema_context(organization.schema_name):
        Agent.objects.filter(is_default=True).update(
            llm_routes=[route], turn_detection=None, builtin_tools=[], memory_enabled=False
        )
    return api_key_create(organization=organization, name="soak benchmark").plaintext


def server_env() -> dict[str, str]:
    from django.conf import settings

    database = settings.DATABASES["default"]
    url = (
        f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        f"?application_name={APPLICATION_NAME}"
    )
    return {
        **os.environ,
        "DATABASE_URL": url,
        "AURA_WARM_UP_LOCAL_MODELS": "false",
        # As served in production: with DEBUG on, Django keeps every query per connection.
        "DEBUG": "false",
        "AURA_PROVIDER_ALLOWED_HOSTS": "127.0.0.1",
        "AURA_RESUME_WINDOW_SECONDS": str(RESUME_WINDOW_S),
        "AURA_SESSION_LEASE_SECONDS": str(LEASE_S),
        "AURA_REALTIME_CENSUS_LOG_SECONDS": "1",
        "AURA_REDIS_CLIENT_NAME": "aura-soak",
    }


# --- what the process holds ------------------------------------------------------------------


def redis_keys() -> dict[str, int]:
    """AURA's Redis keys by kind (ids, hashes and addresses masked), to tell what stays."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    kinds: dict[str, int] = {}
    for key in client.scan_iter(f"{settings.AURA_REDIS_KEY_PREFIX}:*", count=1000):
        kind = ID.sub("*", key.decode(errors="replace"))
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def leased_sessions() -> int:
    """Sessions whose lease a live socket still renews (voice/realtime/limits.py)."""
    import redis
    from django.conf import settings

    from tenants.models import Organization

    schema_name = Organization.objects.get(slug=SLUG).schema_name
    key = f"{settings.AURA_REDIS_KEY_PREFIX}:sessions:{schema_name}"
    return int(redis.Redis.from_url(settings.REDIS_URL).zcount(key, time.time(), "+inf"))


def database_connections() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            [APPLICATION_NAME],
        )
        return int(cursor.fetchone()[0])


def census(log: Path) -> tuple[int, int]:
    found = CENSUS.findall(log.read_text(errors="replace"))
    if not found:
        return -1, -1
    tasks, sessions = found[-1]
    return int(tasks), int(sessions)


def sockets(server: psutil.Process) -> dict[str, int]:
    """The server's sockets by what is at the other end."""
    peers = {6379: "redis", 5432: "postgresql"}
    counts: dict[str, int] = {}
    for conn in server.net_connections():
        if conn.status == psutil.CONN_LISTEN:
            continue
        kind = peers.get(conn.raddr.port if conn.raddr else 0, "other") + f" {conn.status}"
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def redis_clients(server: psutil.Process) -> dict[str, int]:
    """The server's Redis connections by client name (AURA's own pool is named)."""
    import redis
    from django.conf import settings

    mine = {f"{c.laddr.ip}:{c.laddr.port}" for c in server.net_connections() if c.raddr}
    counts: dict[str, int] = {}
    for entry in redis.Redis.from_url(settings.REDIS_URL).client_list():
        if entry["addr"] in mine:
            name = entry.get("name") or "(unnamed)"
            counts[name] = counts.get(name, 0) + 1
    return counts


def snapshot(server: psutil.Process, log: Path) -> dict[str, Any]:
    time.sleep(1.5)  # a fresh census line
    tasks, sessions = census(log)
    keys = redis_keys()
    return {
        "rss_mb": round(server.memory_info().rss / 2**20, 1),
        "open_fds": server.num_fds(),
        "sockets": sockets(server),
        "redis_clients": redis_clients(server),
        "asyncio_tasks": tasks,
        "live_sessions": sessions,
        "redis_keys": sum(keys.values()),
        "redis_key_kinds": keys,
        "leased_sessions": leased_sessions(),
        "database_connections": database_connections(),
    }


# --- load ------------------------------------------------------------------------------------


async def cycle(url: str, headers: dict[str, str]) -> None:
    async with connect(url, additional_headers=headers) as socket:
        while json.loads(await socket.recv())["type"] != "aura.session.created":
            pass


async def conversation(url: str, headers: dict[str, str], turns: int) -> int:
    answered = 0
    async with connect(url, additional_headers=headers) as socket:
        for turn in range(turns):
            await socket.send(
                json.dumps(
                    {
                        "type": "conversation.item.create",
                        "item": {
                            "type": "message",
                            "role": "user",
                            "content": [{"type": "input_text", "text": f"Question {turn}?"}],
                        },
                    }
                )
            )
            await socket.send(
                json.dumps({"type": "response.create", "response": {"output_modalities": ["text"]}})
            )
            while json.loads(await socket.recv())["type"] != "response.done":
                pass
            answered += 1
    return answered


async def in_parallel(jobs: list[Any], concurrency: int) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Any) -> Any:
        async with gate:
            try:
                return await job
            except Exception as error:
                return error

    return await asyncio.gather(*(one(job) for job in jobs))


def growth(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    """after - before, for the counters (the socket and client breakdowns are left as they are)."""
    return {
        name: round(after[name] - before[name], 1)
        for name in before
        if isinstance(before[name], int | float)
    }


def load_round(
    number: int, args: argparse.Namespace, url: str, headers: dict[str, str]
) -> dict[str, Any]:
    """One round of cycles then conversations; how fast it went and how it ended."""
    started = time.monotonic()
    outcomes = asyncio.run(
        in_parallel([cycle(url, headers) for _ in range(args.cycles)], args.concurrency)
    )
    cycles_s = time.monotonic() - started
    started = time.monotonic()
    answered = asyncio.run(
        in_parallel(
            [conversation(url, headers, args.turns) for _ in range(args.conversations)],
            args.concurrency,
        )
    )
    return {
        "round": number,
        "cycles_per_s": round(args.cycles / cycles_s, 1),
        "cycle_errors": sum(isinstance(outcome, Exception) for outcome in outcomes),
        "conversation_errors": sum(isinstance(outcome, Exception) for outcome in answered),
        "turns_answered": sum(a for a in answered if isinstance(a, int)),
        "conversations_s": round(time.monotonic() - started, 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    logs = Path(args.out) / "soak-logs"
    rounds: list[dict[str, Any]] = []
    with ExitStack() as stack:
        sim_port = free_port()
        start_simulator(stack, sim_port, logs)
        key = provision(f"http://127.0.0.1:{sim_port}/v1")
        port = free_port()
        log = logs / "daphne.log"
        server = stack.enter_context(
            process(
                daphne_command(port),
                f"http://127.0.0.1:{port}/healthz",
                server_env(),
                log,
            )
        )
        url = f"ws://127.0.0.1:{port}/v1/realtime?aura=1"
        headers = {"Authorization": f"Bearer {key}"}
        asyncio.run(in_parallel([cycle(url, headers) for _ in range(50)], args.concurrency))
        asyncio.run(conversation(url, headers, 2))
        time.sleep(RESUME_WINDOW_S + LEASE_S)
        before = previous = snapshot(server, log)
        for number in range(1, args.rounds + 1):
            measured = load_round(number, args, url, headers)
            measured["right_after"] = snapshot(server, log)
            time.sleep(SETTLE_S)
            measured["after_expiry"] = after = snapshot(server, log)
            measured["growth"] = growth(previous, after)
            rounds.append(measured)
            print(summary_line(f"round {number}", measured["growth"]), flush=True)
            previous = after
    later = growth(rounds[0]["after_expiry"], previous) if len(rounds) > 1 else None
    return {
        "rounds": args.rounds,
        "cycles_per_round": args.cycles,
        "conversations_per_round": args.conversations,
        "turns_per_conversation": args.turns,
        "concurrency": args.concurrency,
        "before": before,
        "per_round": rounds,
        # Round 1 takes the process from the light warm-up to the measured load's working set;
        # rounds 2..N repeat that load, so what they add is the leak rate.
        "growth_round_1": rounds[0]["growth"],
        "growth_rounds_2_to_n": later,
        "growth_total": growth(before, previous),
        "cpu_count": os.cpu_count(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


SUMMARY = {
    "rss_mb": "RSS {:+.1f} MB",
    "open_fds": "fds {:+.0f}",
    "asyncio_tasks": "tasks {:+.0f}",
    "live_sessions": "sessions {:+.0f}",
    "redis_keys": "Redis keys {:+.0f}",
    "leased_sessions": "leases {:+.0f}",
    "database_connections": "PostgreSQL connections {:+.0f}",
}


def summary_line(label: str, grown: dict[str, float]) -> str:
    return f"{label}: " + ", ".join(form.format(grown[name]) for name, form in SUMMARY.items())


def summary(result: dict[str, Any]) -> str:
    lines = [f"before: RSS {result['before']['rss_mb']} MB, fds {result['before']['open_fds']}"]
    for measured in result["per_round"]:
        label = f"round {measured['round']}"
        if measured["round"] == 1:
            label += " (working set)"
        lines.append(
            summary_line(label, measured["growth"])
            + f"; {measured['cycles_per_s']} cycles/s, {measured['cycle_errors']} cycle errors,"
            f" {measured['turns_answered']} turns"
        )
    if result["growth_rounds_2_to_n"] is not None:
        label = f"rounds 2..{result['rounds']} (leak)"
        lines.append(summary_line(label, result["growth_rounds_2_to_n"]))
    lines.append(summary_line("total", result["growth_total"]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="load rounds, snapshot after each")
    parser.add_argument("--cycles", type=int, default=10_000, help="per round")
    parser.add_argument("--conversations", type=int, default=60, help="per round")
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    sys.path.insert(0, str(REPO_ROOT))
    result = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(summary(result))


if __name__ == "__main__":
    main()
