"""One organization never sees another's data: through the ORM, keys, and async code."""

import asyncio
import threading

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from conversations.models import Conversation
from conversations.services import conversation_start, message_append
from tenants.db import (
    configure_database_pool,
    current_schema_name,
    database_executor,
    in_schema,
)
from tenants.selectors import resolve_api_key
from tenants.services import api_key_create


def test_two_organizations_get_two_schemas(org_alpha, org_beta):
    assert org_alpha.schema_name != org_beta.schema_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name IN (%s, %s)",
            [org_alpha.schema_name, org_beta.schema_name],
        )
        assert len(cursor.fetchall()) == 2


def test_rows_written_in_one_schema_are_invisible_from_the_other(org_alpha, org_beta):
    with schema_context(org_alpha.schema_name):
        conversation = conversation_start(end_user_id="alice")
        message_append(conversation=conversation, role="user", text="alpha's secret")
    with schema_context(org_beta.schema_name):
        assert not Conversation.objects.filter(pk=conversation.pk).exists()
        assert not Conversation.objects.filter(end_user_id="alice").exists()
    with schema_context(org_alpha.schema_name):
        assert Conversation.objects.get(pk=conversation.pk).messages.get().text == "alpha's secret"


def test_the_tenant_apps_tables_exist_in_organizations_schemas_only(org_alpha):
    """Conversations, voice and usage data: every table in each organization's schema, none in
    `public` (where an empty copy would mislead, and a forgotten filter could mix tenants)."""
    tables = {
        model._meta.db_table
        for label in ("voice", "conversations", "monitoring")
        for model in apps.get_app_config(label).get_models()
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_name = ANY(%s) AND table_schema IN ('public', %s)",
            [sorted(tables), org_alpha.schema_name],
        )
        found = cursor.fetchall()
    assert "conversations_usagerecord" in tables
    assert [name for schema, name in found if schema == "public"] == []
    assert {name for schema, name in found if schema == org_alpha.schema_name} == tables


def test_each_key_resolves_to_its_own_organization(org_alpha, org_beta):
    alpha_key = api_key_create(organization=org_alpha).plaintext
    beta_key = api_key_create(organization=org_beta).plaintext
    assert resolve_api_key(alpha_key).tenant.schema_name == org_alpha.schema_name
    assert resolve_api_key(beta_key).tenant.schema_name == org_beta.schema_name


@pytest.mark.django_db(transaction=True)
def test_async_code_alternating_tenants_on_one_worker_thread_never_leaks(org_alpha, org_beta):
    """Regression test for django-tenants' pitfall: a pooled thread keeps its last schema.

    The calls run in a database pool of one thread, so that thread serves each tenant right
    after the other (a larger pool may hand alternating calls to alternating threads, and the
    pitfall would go untested).
    """
    configure_database_pool(workers=1)
    try:
        asyncio.run(alternate_tenants(org_alpha.schema_name, org_beta.schema_name))
    finally:
        configure_database_pool(workers=settings.AURA_DATABASE_WORKERS)


async def alternate_tenants(alpha_schema: str, beta_schema: str) -> None:
    def create(end_user_id: str) -> tuple[str, int]:
        conversation = conversation_start(end_user_id=end_user_id)
        return str(conversation.pk), threading.get_ident()

    def visible_user_ids() -> set[str]:
        return set(Conversation.objects.values_list("end_user_id", flat=True))

    def current_schema() -> str:
        return current_schema_name()

    alpha_id, alpha_thread = await in_schema(alpha_schema, create, "leak-test-alpha")
    beta_id, beta_thread = await in_schema(beta_schema, create, "leak-test-beta")
    assert alpha_thread == beta_thread, "both calls must have shared one worker thread"

    for _ in range(5):
        alpha_seen, beta_seen = await asyncio.gather(
            in_schema(alpha_schema, visible_user_ids),
            in_schema(beta_schema, visible_user_ids),
        )
        assert "leak-test-alpha" in alpha_seen
        assert "leak-test-beta" not in alpha_seen
        assert "leak-test-beta" in beta_seen
        assert "leak-test-alpha" not in beta_seen

    # After a tenant call the thread is back in the public schema, not left in the last tenant.
    assert await in_schema("public", current_schema) == "public"
    assert await asyncio.wrap_future(database_executor().submit(current_schema)) == "public"

    def cleanup(pk: str) -> None:
        Conversation.objects.filter(pk=pk).delete()

    await in_schema(alpha_schema, cleanup, alpha_id)
    await in_schema(beta_schema, cleanup, beta_id)
