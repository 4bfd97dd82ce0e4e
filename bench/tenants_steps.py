"""The parts of bench/tenants.py that run inside Django, against one bench database.

    python -m bench.tenants_steps STEP [ARG]   (with the environment of `child_env`)

Each step prints one JSON value on its last line of output.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
ONE_REQUEST = {"stage": "llm", "provider": "bench", "model": "m", "requests": 1}


def child_env(database: str, *, settings: str = "aura_project.settings.dev") -> dict[str, str]:
    """A process of the bench: its own database, Redis namespace and Celery queue."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "AURA_REDIS_KEY_PREFIX": database,
        "CHANNEL_LAYER_PREFIX": database,
        "CELERY_TASK_DEFAULT_QUEUE": database,
        "AURA_WARM_UP_LOCAL_MODELS": "false",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        # The bench is one client sending thousands of requests with one key.
        "AURA_API_RATE_LIMIT_PER_KEY": "1000000/minute",
        "AURA_API_RATE_LIMIT_PER_ORGANIZATION": "1000000/minute",
        "PYTHONUNBUFFERED": "1",
    }


def run_step(
    database: str, step: str, *args: str, settings: str = "aura_project.settings.dev"
) -> Any:
    output = subprocess.run(
        [sys.executable, "-m", "bench.tenants_steps", step, *args],
        cwd=REPO_ROOT,
        env=child_env(database, settings=settings),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _median_ms(work: Any, runs: int = 5) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 2)


def staff_key() -> str:
    from tenants.models import Organization
    from tenants.services import api_key_create

    platform = Organization.objects.get(schema_name="public")
    return api_key_create(organization=platform, name="bench", scopes=["staff"]).plaintext


def keys(how_many: str) -> list[dict[str, str]]:
    """A secret key for `how_many` random active organizations (or "all")."""
    from tenants.models import Organization
    from tenants.services import api_key_create

    organizations = list(
        Organization.objects.exclude(schema_name="public")
        .filter(status="active")
        .prefetch_related("domains")
    )
    if how_many != "all":
        organizations = random.Random(0).sample(
            organizations, min(int(how_many), len(organizations))
        )
    return [
        {
            "domain": organization.domains.all()[0].domain,
            "key": api_key_create(organization=organization, name="bench").plaintext,
        }
        for organization in organizations
    ]


def connections() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT state, count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() GROUP BY state"
        )
        by_state = {str(state): int(count) for state, count in cursor.fetchall()}
    return {"total": sum(by_state.values()), **by_state}


def noop_reset() -> int:
    from django.db import connection

    from tenants.sweeps import active_schema_names

    schemas = active_schema_names()
    with connection.cursor() as cursor:
        for schema in schemas:
            cursor.execute(
                f"DELETE FROM {connection.ops.quote_name(schema)}.django_migrations "
                "WHERE app = 'noop_tenant_app'"
            )
    return len(schemas)


def check() -> dict[str, Any]:
    from django.conf import settings

    from tenants.management.commands.aura_setup import _labels, _unapplied_migrations
    from tenants.migration_state import organizations_behind

    return {
        "organizations_behind": len(organizations_behind()),
        "organizations_behind_query_ms": _median_ms(organizations_behind),
        "public_plan_ms": _median_ms(
            lambda: _unapplied_migrations("public", _labels(settings.SHARED_APPS))
        ),
    }


def beat() -> dict[str, Any]:
    """One rollup cycle with 10% of organizations active, and the former fan-out's work."""
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from core.redis import redis_key, redis_sync_client
    from monitoring.models import UsageRecord
    from monitoring.services import usage_record, usage_roll_up_recent
    from monitoring.tasks import roll_up_recent_usage_batch
    from tenants.sweeps import active_schema_names, batches, for_each_schema, schemas_having

    schemas = active_schema_names()
    active = random.Random(1).sample(schemas, max(1, len(schemas) // 10))
    for schema in active:
        with schema_context(schema):
            usage_record(
                conversation_id=None, records=[{"stage": "llm", "provider": "b", "model": "m"}]
            )
    redis_sync_client().delete(redis_key("sweep", "roll-up-usage"))
    since = timezone.now() - timedelta(minutes=10)
    started = time.perf_counter()
    found = schemas_having(UsageRecord, "created_at >= %s", [since])
    probe_s = time.perf_counter() - started
    for batch in batches(found):
        roll_up_recent_usage_batch(batch)
    cycle_s = time.perf_counter() - started
    started = time.perf_counter()
    for_each_schema(schemas, usage_roll_up_recent)
    every_s = time.perf_counter() - started
    return {
        "organizations": len(schemas),
        "active": len(active),
        "found": len(found),
        "probe_s": round(probe_s, 3),
        "cycle_s": round(cycle_s, 2),
        "tasks_queued": len(list(batches(found))),
        "every_organization_s": round(every_s, 2),
        "every_organization_tasks": len(schemas),
    }


def catalog() -> dict[str, Any]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class")
        (relations,) = cursor.fetchone() or (0,)
        cursor.execute("SELECT pg_database_size(current_database())")
        (size,) = cursor.fetchone() or (0,)
    return {"pg_class_rows": int(relations), "database_mb": round(int(size) / 2**20, 1)}


def schemas() -> list[str]:
    from tenants.sweeps import active_schema_names

    return sorted(active_schema_names())


STEPS: dict[str, Callable[..., Any]] = {
    "schemas": schemas,
    "staff-key": staff_key,
    "keys": keys,
    "connections": connections,
    "noop-reset": noop_reset,
    "check": check,
    "beat": beat,
    "catalog": catalog,
}

if __name__ == "__main__":
    import django

    sys.path.insert(0, str(REPO_ROOT))
    django.setup()
    step, *arguments = sys.argv[1:]
    print(json.dumps(STEPS[step](*arguments)))
