"""Periodic work across organizations whose cost follows activity, not the tenant count.

A beat task asks PostgreSQL once which organizations have anything to do (one `EXISTS` probe
per schema on an indexed column, all in one statement per few hundred organizations), then
queues one task per batch of those organizations, instead of one task per organization.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Model
from django_tenants.utils import get_public_schema_name, schema_context

from core.redis import redis_key, redis_sync_client
from tenants.db import use_public_schema
from tenants.models import Organization

logger = logging.getLogger(__name__)

# Organizations per queued task, and per probing statement.
BATCH_SIZE = 50
PROBE_CHUNK = 400
# Rows are stamped before their transaction commits: look back a little before the last run.
COMMIT_MARGIN = timedelta(minutes=5)


def active_schema_names() -> list[str]:
    return list(
        Organization.objects.exclude(schema_name=get_public_schema_name())
        .filter(status=Organization.Status.ACTIVE)
        .values_list("schema_name", flat=True)
    )


def schemas_having(model: type[Model], where: str, params: Sequence[Any]) -> list[str]:
    """Active organizations whose table of `model` has a row matching `where` (SQL on the
    table's columns, with %s placeholders for `params`)."""
    found: list[str] = []
    table = connection.ops.quote_name(model._meta.db_table)
    schemas = active_schema_names()
    for start in range(0, len(schemas), PROBE_CHUNK):
        chunk = schemas[start : start + PROBE_CHUNK]
        probes = [
            f"SELECT %s WHERE EXISTS (SELECT 1 FROM {connection.ops.quote_name(name)}.{table} "
            f"WHERE {where})"
            for name in chunk
        ]
        arguments = [value for name in chunk for value in (name, *params)]
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(probes), arguments)
            found.extend(row[0] for row in cursor.fetchall())
    return found


def batches(names: Sequence[str], size: int = BATCH_SIZE) -> Iterator[list[str]]:
    for start in range(0, len(names), size):
        yield list(names[start : start + size])


def window_start(sweep: str, *, now: datetime, first_window: timedelta) -> datetime:
    """Since when this sweep has to look: its previous run's start (less a margin), or
    `first_window` ago on its first run; remembers `now` for the next run."""
    previous = redis_sync_client().getset(redis_key("sweep", sweep), now.isoformat())
    since = datetime.fromisoformat(str(previous)) if previous else now - first_window
    return since - COMMIT_MARGIN


def for_each_schema(schema_names: Sequence[str], work: Callable[[], object]) -> int:
    """Run `work` inside each named organization's schema; returns how many succeeded.

    Names that are not an active organization's schema are refused (logged), and one
    organization's failure (logged) does not stop the others.
    """
    use_public_schema()
    known = set(
        Organization.objects.filter(
            schema_name__in=list(schema_names), status=Organization.Status.ACTIVE
        )
        .exclude(schema_name=get_public_schema_name())
        .values_list("schema_name", flat=True)
    )
    done = 0
    for schema_name in schema_names:
        if schema_name not in known:
            logger.error("refused a task for %r: no active organization has it", schema_name)
            continue
        try:
            with schema_context(schema_name):
                work()
            done += 1
        except Exception:
            logger.exception("periodic work failed", extra={"schema": schema_name})
    use_public_schema()
    return done
