"""A new organization's schema is a copy of the migrated template, identical to a migrated one."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from tenants.migration_state import code_digest, organizations_behind, schema_digest
from tenants.models import Organization
from tenants.provisioning import _schema_migrate_new, schema_copy, template_ensure
from tenants.services import organization_create
from voice.models import Agent

pytestmark = pytest.mark.django_db

TEMPLATE = settings.AURA_TENANT_TEMPLATE_SCHEMA


def _rows(query: str, schema: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(query, [schema])
        return [tuple(row) for row in cursor.fetchall()]


def describe(schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a schema's structure is made of, with its own name taken out."""
    columns = _rows(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "a.attidentity, a.attgenerated, pg_get_expr(d.adbin, d.adrelid) "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r' AND a.attnum > 0 "
        "AND NOT a.attisdropped ORDER BY 1, 2",
        schema,
    )
    constraints = _rows(
        "SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid) "
        "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
        "WHERE k.connamespace = %s::regnamespace ORDER BY 1, 2",
        schema,
    )
    indexes = _rows(
        "SELECT indexname, replace(indexdef, schemaname || '.', '') FROM pg_indexes "
        "WHERE schemaname = %s ORDER BY 1",
        schema,
    )
    sequences = _rows(
        "SELECT sequencename FROM pg_sequences WHERE schemaname = %s ORDER BY 1", schema
    )
    migrations = _rows_of("django_migrations", schema, "app, name")
    return {
        "columns": columns,
        "constraints": constraints,
        "indexes": indexes,
        "sequences": sequences,
        "migrations": migrations,
    }


def _rows_of(table: str, schema: str, columns: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT {columns} FROM "{schema}"."{table}" ORDER BY 1, 2')
        return [tuple(row) for row in cursor.fetchall()]


def test_a_copied_schema_has_the_structure_and_rows_a_migrated_one_has(
    tenant_schemas: None,
) -> None:
    template_ensure(TEMPLATE)
    _schema_migrate_new("org_probe_migrated")
    schema_copy(TEMPLATE, "org_probe_copied")

    # Constraint definitions print foreign keys unqualified when the schema is on the path.
    migrated, copied = describe("org_probe_migrated"), describe("org_probe_copied")
    assert copied["columns"] == migrated["columns"]
    assert copied["indexes"] == migrated["indexes"]
    assert copied["sequences"] == migrated["sequences"]
    assert [c[:3] for c in copied["constraints"]] == [c[:3] for c in migrated["constraints"]]
    assert copied["migrations"] == migrated["migrations"]
    for table, columns in (
        ("django_content_type", "app_label, model"),
        ("auth_permission", "codename, content_type_id"),
    ):
        assert _rows_of(table, "org_probe_copied", columns) == _rows_of(
            table, "org_probe_migrated", columns
        )


def test_a_copied_schema_has_sequences_of_its_own() -> None:
    organization = organization_create(slug="probe-copy", name="Probe")
    with schema_context(organization.schema_name):
        agent = Agent.objects.create(name="Second")
        assert agent.pk == Agent.objects.order_by("pk").first().pk + 1  # type: ignore[union-attr]
    template_agents = _rows_of("voice_agent", TEMPLATE, "id, name")
    assert template_agents == []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_serial_sequence(%s, 'id')", [f"{organization.schema_name}.voice_agent"]
        )
        (sequence,) = cursor.fetchone()
    assert sequence.startswith(f"{organization.schema_name}.")


def test_a_new_organization_records_that_its_schema_is_current() -> None:
    organization = organization_create(slug="probe-digest", name="Probe")
    organization.refresh_from_db()
    assert organization.migration_digest == code_digest()
    assert schema_digest(organization.schema_name) == code_digest()
    assert organization.schema_name not in organizations_behind()


def test_a_stale_template_is_rebuilt_before_it_is_copied(tenant_schemas: None) -> None:
    template_ensure(TEMPLATE)
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{TEMPLATE}".django_migrations WHERE app = %s', ["voice"])
    assert schema_digest(TEMPLATE) != code_digest()

    organization = organization_create(slug="probe-stale", name="Probe")

    assert schema_digest(TEMPLATE) == code_digest()
    assert schema_digest(organization.schema_name) == code_digest()


def test_the_startup_check_is_one_query_whatever_the_organization_count(
    tenant_schemas: None,
) -> None:
    behind = Organization.objects.get(slug="alpha")
    Organization.objects.filter(pk=behind.pk).update(migration_digest="stale")

    with CaptureQueriesContext(connection) as queries:
        schemas = organizations_behind()

    assert behind.schema_name in schemas
    assert "org_beta" not in schemas
    # django-tenants' own `SET search_path` aside.
    assert [q["sql"] for q in queries if not q["sql"].startswith("SET ")] == [queries[-1]["sql"]]
