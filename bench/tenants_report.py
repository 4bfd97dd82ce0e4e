"""The figures of bench/tenants.py that docs/benchmarks.md quotes, as a Markdown table."""

from __future__ import annotations

from typing import Any


def table(results: dict[str, Any], *, pool_size: int) -> str:
    """The figures docs/benchmarks.md quotes, as a Markdown table."""
    migrations, per_request = results["migrations"], results["per_request"]
    touched, pooled = (
        results["touch_every_organization"],
        results["touch_every_organization_pooled"],
    )
    beat, stored = results["beat_cycle"], results["storage"]
    rows = [
        ("organizations", results["organizations"]),
        ("migrate_schemas, one new no-op migration, s", migrations["migrate_schemas_noop_s"]),
        ("aura_setup with nothing to do, s", migrations["aura_setup_noop_s"]),
        ("start-up check query, ms", migrations["startup_check"]["organizations_behind_query_ms"]),
        ("REST p50 / p99 at N, ms", _pair(per_request["at_n"]["rest_ms"])),
        ("REST p50 / p99 at 2, ms", _pair(per_request["at_2"]["rest_ms"])),
        ("REST p50 ratio N / 2", per_request["rest_p50_ratio"]),
        ("realtime connect p50 / p99 at N, ms", _pair(per_request["at_n"]["realtime_connect_ms"])),
        ("realtime connect p50 ratio N / 2", per_request["connect_p50_ratio"]),
        ("server RSS growth after every organization, MB", touched["rss_mb_growth"]),
        ("PostgreSQL connections, 3 servers + worker", touched["postgres_connections"]["total"]),
        (f"... with a pool of {pool_size} per process", pooled["postgres_connections"]["total"]),
        ("beat rollup cycle, 10% active, s", beat["cycle_s"]),
        ("... one task per organization, s", beat["every_organization_s"]),
        ("database size, MB / pg_dump, s", f"{stored['database_mb']} / {stored['pg_dump_s']}"),
        ("pg_dump", stored["pg_dump"]),
    ]
    for name in ("provisioning_copy", "provisioning_migrate"):
        if name in results:
            rows.insert(1, (f"{name.replace('_', ', ')} per second", results[name]["per_second"]))
    lines = ["| figure | value |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def _pair(figures: dict[str, float]) -> str:
    return f"{figures['p50']} / {figures['p99']}"
