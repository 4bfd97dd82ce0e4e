"""Periodic work goes to the organizations that have something to do, in batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from conversations.models import Conversation
from core.redis import redis_key, redis_sync_client
from monitoring.models import UsageRecord
from monitoring.services import usage_record
from tenants.db import current_schema_name
from tenants.sweeps import COMMIT_MARGIN, batches, for_each_schema, schemas_having, window_start

pytestmark = pytest.mark.django_db

# An hour of its own, far from the rows other tests write "now".
HOUR = datetime(2020, 2, 29, 11, tzinfo=UTC)


def _usage_at(schema_name: str, at: datetime) -> None:
    with schema_context(schema_name):
        (record,) = usage_record(
            conversation_id=None, records=[{"stage": "llm", "provider": "x", "model": "m"}]
        )
        UsageRecord.objects.filter(pk=record.pk).update(created_at=at)


def test_only_organizations_with_matching_rows_are_found(org_alpha: Any, org_beta: Any) -> None:
    _usage_at(org_alpha.schema_name, HOUR + timedelta(minutes=30))
    _usage_at(org_beta.schema_name, HOUR - timedelta(hours=3))

    found = schemas_having(
        UsageRecord, "created_at >= %s AND created_at < %s", [HOUR, HOUR + timedelta(hours=1)]
    )

    assert org_alpha.schema_name in found
    assert org_beta.schema_name not in found


def test_stale_conversations_are_found_by_their_status_and_age(org_alpha: Any) -> None:
    long_ago = timezone.now() - timedelta(days=400)
    with schema_context(org_alpha.schema_name):
        ended = Conversation.objects.create(status="ended", started_at=long_ago)
    where = "status = 'active' AND started_at < %s"
    cutoff = long_ago + timedelta(minutes=1)
    assert org_alpha.schema_name not in schemas_having(Conversation, where, [cutoff])

    with schema_context(org_alpha.schema_name):
        Conversation.objects.filter(pk=ended.pk).update(status="active")
    assert org_alpha.schema_name in schemas_having(Conversation, where, [cutoff])


def test_work_runs_in_each_organization_and_refuses_schemas_that_are_not_one(
    org_alpha: Any, org_beta: Any
) -> None:
    seen: list[str] = []

    def work() -> None:
        seen.append(current_schema_name())
        if current_schema_name() == org_alpha.schema_name:
            raise RuntimeError("one organization's failure")

    done = for_each_schema(
        ["public", "pg_catalog", "org_ghost", org_alpha.schema_name, org_beta.schema_name], work
    )

    assert seen == [org_alpha.schema_name, org_beta.schema_name]
    assert done == 1
    assert current_schema_name() == "public"


def test_the_window_starts_where_the_previous_run_started() -> None:
    redis_sync_client().delete(redis_key("sweep", "probe"))
    first_run = datetime(2026, 1, 1, 12, tzinfo=UTC)
    second_run = first_run + timedelta(minutes=5)

    assert window_start("probe", now=first_run, first_window=timedelta(hours=2)) == (
        first_run - timedelta(hours=2) - COMMIT_MARGIN
    )
    assert window_start("probe", now=second_run, first_window=timedelta(hours=2)) == (
        first_run - COMMIT_MARGIN
    )


def test_batches_cover_every_name_once() -> None:
    names = [f"org_{index}" for index in range(120)]
    assert [len(batch) for batch in batches(names, 50)] == [50, 50, 20]
    assert [name for batch in batches(names, 50) for name in batch] == names
