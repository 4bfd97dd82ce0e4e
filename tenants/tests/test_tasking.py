"""tenants/tasking.py: a task that takes a schema name runs only in an organization's schema."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django_tenants.utils import schema_context

from conversations.models import Conversation
from conversations.services import conversation_start
from conversations.tasks import end_stale_conversations, summarize_conversation
from monitoring.tasks import roll_up_recent_usage, roll_up_usage
from tenants.db import current_schema_name
from tenants.models import Organization
from tenants.services import organization_register, platform_ensure_public_tenant
from tenants.tasking import NotAnOrganizationSchemaError

TENANT_TASKS = [
    (end_stale_conversations, ()),
    (summarize_conversation, ("00000000-0000-0000-0000-000000000000",)),
    (roll_up_recent_usage, ()),
    (roll_up_usage, ("day", "2026-01-01T00:00:00+00:00")),
]
NOT_ORGANIZATION_SCHEMAS = [
    "public",
    "pg_catalog",
    "information_schema",
    "org_ghost",
    "org_alpha; DROP SCHEMA org_beta",
    "",
    None,
    ["org_alpha"],
]


@pytest.mark.parametrize(
    ("task", "args"), TENANT_TASKS, ids=lambda value: getattr(value, "name", "")
)
@pytest.mark.parametrize("schema_name", NOT_ORGANIZATION_SCHEMAS, ids=repr)
def test_a_tenant_task_refuses_a_schema_that_is_no_organizations(
    org_alpha: Organization, task: Any, args: tuple[Any, ...], schema_name: Any, caplog: Any
) -> None:
    platform_ensure_public_tenant(domains=("localhost",))  # "public" is an Organization row

    with caplog.at_level(logging.ERROR, logger="tenants.tasking"):
        result = task.apply(args=(schema_name, *args))

    assert result.failed()
    assert isinstance(result.result, NotAnOrganizationSchemaError)
    assert "refused: no organization has the schema" in str(result.result)
    refusals = [
        r for r in caplog.records if r.getMessage() == "task refused: not an organization's schema"
    ]
    assert len(refusals) == 1
    assert refusals[0].task == task.name
    assert current_schema_name() == "public"


def test_a_refused_task_touches_no_organization(org_alpha: Organization) -> None:
    with schema_context(org_alpha.schema_name):
        stale = conversation_start(end_user_id="stale-public")
        Conversation.objects.filter(pk=stale.pk).update(started_at="2000-01-01T00:00:00Z")

    end_stale_conversations.apply(args=("public", 0))

    with schema_context(org_alpha.schema_name):
        assert Conversation.objects.get(pk=stale.pk).status == "active"


def test_an_organization_without_its_schema_yet_is_refused(db: None) -> None:
    provisioning = organization_register(slug="kappa-co", name="Kappa")  # no worker builds it

    result = end_stale_conversations.apply(args=(provisioning.schema_name,))

    assert isinstance(result.result, NotAnOrganizationSchemaError)


def test_an_organizations_schema_is_accepted(org_alpha: Organization) -> None:
    assert end_stale_conversations.apply(args=(org_alpha.schema_name,)).successful()
