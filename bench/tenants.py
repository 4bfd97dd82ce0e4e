"""1000+ organizations: what grows with the tenant count, and what must not.

    .venv/bin/python -m bench.tenants [--organizations 1000] [--out bench/results] [--reuse]

Needs PostgreSQL and Redis (as `make run` does). Works in two databases of its own,
`aura_bench_tenants` (N organizations) and `aura_bench_tenants_small` (2), so that figures at
N can be compared with figures at 2 in one run. Measured, each with its method in the JSON:
- provisioning through the real path (platform REST API + Celery worker), organizations a
  second, with the schema copied from the template, and for comparison a sample migrated;
- `migrate_schemas` of every schema with one new no-op tenant migration (bench/noop_tenant_app);
- the start-up check (`aura_setup` with nothing to do), whole command and the check alone;
- REST p50/p99 (GET /api/v1/agents) on 10 random organizations' domains and realtime connect
  time (to `session.created`), at N and at 2 organizations, and their ratio;
- a server's RSS before and after a request to every organization;
- PostgreSQL connections held by 3 server processes and a worker after that traffic;
- one beat cycle of the usage rollups with 10% of organizations active, against the former
  one-task-per-organization fan-out doing the same work;
- catalog size, database size and `pg_dump` time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from websockets.asyncio.client import connect

from bench.load_setup import daphne_command, process
from bench.tenants_report import table
from bench.tenants_steps import child_env, run_step
from core.processes import free_port, stop, wait_until_ready

REPO_ROOT = Path(__file__).resolve().parent.parent
BIG, SMALL = "aura_bench_tenants", "aura_bench_tenants_small"
SAMPLE_ORGANIZATIONS = 10
# Connections per process with the psycopg pool on (DATABASE_POOL_MAX_SIZE), for comparison.
POOL_SIZE = 4
# Schemas per pg_dump when the whole database holds more tables than one dump may lock.
DUMP_BATCH = 100
JSON_HEADERS = {"Content-Type": "application/json"}


def percentiles(values: list[float]) -> dict[str, float]:
    array = np.array(values)
    return {
        "p50": round(float(np.percentile(array, 50)), 2),
        "p99": round(float(np.percentile(array, 99)), 2),
        "n": len(values),
    }


def manage(database: str, *args: str, settings: str = "aura_project.settings.dev") -> float:
    """Run a management command against a bench database; returns its wall time in seconds."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=child_env(database, settings=settings),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def recreate(database: str) -> None:
    subprocess.run(
        ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", database],
        check=True,
    )
    manage(database, "aura_setup")


# --- servers ------------------------------------------------------------------------------


@contextmanager
def servers(database: str, count: int, logs: Path, **extra_env: str) -> Any:
    with ExitStack() as stack:
        bases = []
        for index in range(count):
            port = free_port()
            bases.append(f"127.0.0.1:{port}")
            stack.enter_context(
                process(
                    daphne_command(port),
                    f"http://127.0.0.1:{port}/healthz",
                    {**child_env(database), **extra_env},
                    logs / f"{database}-daphne-{index}.log",
                )
            )
        yield bases


@contextmanager
def worker(database: str, logs: Path, **extra_env: str) -> Any:
    """A Celery worker on the database's queue, once it says it is ready."""
    env = {**child_env(database), "LOG_LEVEL": "INFO", **extra_env}
    command = [
        # As the Procfile and the compose files run it: prefork, one process a core.
        *(sys.executable, "-m", "celery", "-A", "aura_project", "worker", "--concurrency", "2"),
        *("--without-gossip", "--without-mingle", "--without-heartbeat"),
    ]
    log = logs / f"{database}-worker-{time.strftime('%H%M%S')}.log"
    with log.open("w") as output:
        child = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=output, stderr=output)
    try:
        wait_until_ready(
            child, lambda: " ready." in log.read_text(), name="the worker", timeout_s=60
        )
        yield psutil.Process(child.pid)
    finally:
        stop(child, timeout_s=30)


def http(base: str, path: str, *, host: str, key: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"http://{base}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Host": host,
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
        },
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


# --- measurements -------------------------------------------------------------------------


def provision(base: str, staff_key: str, count: int, prefix: str) -> dict[str, Any]:
    """Register `count` organizations through the platform API, wait until all are active."""
    started = time.perf_counter()
    for index in range(count):
        http(
            base,
            "/api/v1/platform/organizations",
            host="localhost",
            key=staff_key,
            body={"slug": f"{prefix}{index:05d}", "name": f"Bench {index}"},
        )
    listing = "/api/v1/platform/organizations?limit=1&status="
    while http(base, listing + "provisioning", host="localhost", key=staff_key)["count"]:
        time.sleep(0.2)
    failed = http(base, listing + "failed", host="localhost", key=staff_key)["count"]
    if failed:
        raise RuntimeError(f"{failed} organizations failed to provision")
    elapsed_s = time.perf_counter() - started
    return {
        "organizations": count,
        "seconds": round(elapsed_s, 1),
        "per_second": round(count / elapsed_s, 2),
    }


def rest_latency(base: str, keys: list[dict[str, str]], requests: int = 300) -> dict[str, float]:
    timings = []
    for index in range(requests):
        key = keys[index % len(keys)]
        started = time.perf_counter()
        http(base, "/api/v1/agents", host=key["domain"], key=key["key"])
        timings.append((time.perf_counter() - started) * 1000)
    return percentiles(timings[20:])  # the first requests warm the process up


async def _connect_ms(base: str, key: str) -> float:
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {key}"}
    async with connect(f"ws://{base}/v1/realtime", additional_headers=headers) as socket:
        while json.loads(await socket.recv())["type"] != "session.created":
            pass
        return (time.perf_counter() - started) * 1000


def connect_latency(base: str, keys: list[dict[str, str]], connects: int = 60) -> dict[str, float]:
    timings = [asyncio.run(_connect_ms(base, keys[i % len(keys)]["key"])) for i in range(connects)]
    return percentiles(timings[5:])


def per_request_cost(database: str, logs: Path) -> dict[str, Any]:
    keys = run_step(database, "keys", str(SAMPLE_ORGANIZATIONS))
    with servers(database, 1, logs) as (base,):
        return {
            "rest_ms": rest_latency(base, keys),
            "realtime_connect_ms": connect_latency(base, keys),
        }


def touch_everything(database: str, logs: Path, **extra_env: str) -> dict[str, Any]:
    """RSS of a server before and after one request to every organization, and connections
    held by 3 servers and a worker once that traffic spread over them."""
    keys = run_step(database, "keys", "all")
    with servers(database, 3, logs, **extra_env) as bases, worker(database, logs, **extra_env):
        server = next(
            p
            for p in psutil.process_iter(["cmdline"])
            if bases[0].split(":")[1] in " ".join(p.info["cmdline"] or ())
        )
        http(bases[0], "/api/v1/agents", host=keys[0]["domain"], key=keys[0]["key"])
        rss_before = server.memory_info().rss
        for index, key in enumerate(keys):
            http(bases[index % 3], "/api/v1/agents", host=key["domain"], key=key["key"])
        rss_after = server.memory_info().rss
        connections = run_step(database, "connections")
    return {
        "organizations_touched": len(keys),
        "rss_mb_before": round(rss_before / 2**20, 1),
        "rss_mb_after": round(rss_after / 2**20, 1),
        "rss_mb_growth": round((rss_after - rss_before) / 2**20, 1),
        "postgres_connections": connections,
    }


def migrations_at_scale(database: str) -> dict[str, Any]:
    run_step(database, "noop-reset")
    settings = "bench.tenant_settings"
    seconds = manage(
        database,
        "migrate_schemas",
        "--executor",
        "multiprocessing",
        "--skip-checks",
        settings=settings,
    )
    check_s = manage(database, "aura_setup", settings=settings)
    check = run_step(database, "check", settings=settings)
    return {
        "migrate_schemas_noop_s": round(seconds, 1),
        "executor": "multiprocessing --skip-checks",
        "processes": os.cpu_count(),
        "aura_setup_noop_s": round(check_s, 2),
        "startup_check": check,
    }


def storage(database: str) -> dict[str, Any]:
    """Catalog and database size, and how long `pg_dump` (custom format) takes.

    A dump locks every table in one transaction: past `max_locks_per_transaction` x
    `max_connections` tables PostgreSQL refuses it, so then the schemas are dumped in batches
    (and the figure says so).
    """
    catalog = run_step(database, "catalog")
    try:
        seconds, megabytes = _dump(database, [])
        return {**catalog, "pg_dump_s": seconds, "pg_dump_mb": megabytes, "pg_dump": "whole"}
    except subprocess.CalledProcessError as error:
        refusal = (error.stderr or "").strip().splitlines()[:1]
    schemas = run_step(database, "schemas")
    seconds = megabytes = 0.0
    for start in range(0, len(schemas), DUMP_BATCH):
        batch = [f"--schema={name}" for name in schemas[start : start + DUMP_BATCH]]
        batch_s, batch_mb = _dump(database, batch)
        seconds, megabytes = seconds + batch_s, megabytes + batch_mb
    return {
        **catalog,
        "pg_dump_s": round(seconds, 1),
        "pg_dump_mb": round(megabytes, 1),
        "pg_dump": f"whole database refused ({' '.join(refusal)}); in batches of {DUMP_BATCH}",
    }


def _dump(database: str, selection: list[str]) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as scratch:
        dump = Path(scratch) / "dump"
        started = time.perf_counter()
        subprocess.run(
            [
                "pg_dump",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-Fc",
                "-f",
                str(dump),
                *selection,
                database,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return round(time.perf_counter() - started, 1), round(dump.stat().st_size / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--organizations", type=int, default=1000)
    parser.add_argument("--migrated-sample", type=int, default=20)
    parser.add_argument("--reuse", action="store_true", help="keep the organizations already made")
    parser.add_argument(
        "--provision-more",
        type=int,
        default=0,
        help="only provision this many more organizations into the existing databases",
    )
    parser.add_argument(
        "--without-template",
        action="store_true",
        help="with --provision-more: migrate each new schema instead of copying the template",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    args = parser.parse_args()
    logs = args.out / "tenants-logs"
    logs.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"cpu_count": os.cpu_count(), "organizations": args.organizations}
    saved = args.out / "tenants.json"

    def stage(name: str, value: Any) -> None:
        """Keep each figure as soon as it is measured: a later stage may fail."""
        results[name] = value
        saved.write_text(json.dumps(results, indent=2))

    if args.provision_more:
        path = "migrate" if args.without_template else "copy"
        schema_source = {"AURA_TENANT_TEMPLATE_SCHEMA": ""} if args.without_template else {}
        stage(
            f"provisioning_{path}", provision_into(BIG, args.provision_more, logs, **schema_source)
        )
        print(json.dumps(results, indent=2))
        return
    if not args.reuse:
        for database in (BIG, SMALL):
            recreate(database)
        stage("provisioning_copy", provision_into(BIG, args.organizations, logs))
        stage(
            "provisioning_migrate",
            provision_into(BIG, args.migrated_sample, logs, AURA_TENANT_TEMPLATE_SCHEMA=""),
        )
        provision_into(SMALL, 2, logs)
    stage("migrations", migrations_at_scale(BIG))
    at_n, at_2 = per_request_cost(BIG, logs), per_request_cost(SMALL, logs)
    stage(
        "per_request",
        {
            "at_n": at_n,
            "at_2": at_2,
            "rest_p50_ratio": round(at_n["rest_ms"]["p50"] / at_2["rest_ms"]["p50"], 2),
            "connect_p50_ratio": round(
                at_n["realtime_connect_ms"]["p50"] / at_2["realtime_connect_ms"]["p50"], 2
            ),
        },
    )
    stage("touch_every_organization", touch_everything(BIG, logs))
    pooled = touch_everything(BIG, logs, DATABASE_POOL_MAX_SIZE=str(POOL_SIZE))
    stage("touch_every_organization_pooled", pooled)
    stage("beat_cycle", run_step(BIG, "beat"))
    stage("storage", storage(BIG))
    print(json.dumps(results, indent=2))
    print(table(results, pool_size=POOL_SIZE))


def provision_into(database: str, count: int, logs: Path, **extra_env: str) -> dict[str, Any]:
    """`count` new organizations through the platform API and a worker (names never reused)."""
    staff_key = run_step(database, "staff-key")
    prefix = f"b{int(time.time()) % 100_000}"
    with servers(database, 1, logs) as (base,), worker(database, logs, **extra_env):
        return provision(base, staff_key, count, prefix)


if __name__ == "__main__":
    main()
