"""Which tenant migrations a schema has, as one short digest, so "is every organization up to
date?" is one indexed query over the public schema instead of a migration plan per schema.

The digest of a schema is taken from its own `django_migrations` rows when django-tenants has
migrated it (its `schema_migrated` signal) and stored on the organization's row; the code's
digest is that of every migration of the tenant apps that the code ships. They are equal
exactly when the schema has every migration the code has.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.dispatch import receiver
from django_tenants.signals import schema_migrated
from django_tenants.utils import get_public_schema_name, schema_context


def tenant_app_labels() -> frozenset[str]:
    return frozenset(app.rsplit(".", 1)[-1] for app in settings.TENANT_APPS)


def digest(migrations: Iterable[tuple[str, str]]) -> str:
    names = sorted(f"{app}.{name}" for app, name in migrations)
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


@cache
def code_migrations() -> frozenset[tuple[str, str]]:
    """Every migration of the tenant apps in the code (read from disk once per process)."""
    labels = tenant_app_labels()
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    return frozenset(node for node in graph.nodes if node[0] in labels)


def code_digest() -> str:
    return digest(code_migrations())


def schema_digest(schema_name: str) -> str:
    """The digest of the tenant migrations recorded in one schema (one query)."""
    table = f"{connection.ops.quote_name(schema_name)}.django_migrations"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT app, name FROM {table}")  # a quoted identifier
        applied = {(app, name) for app, name in cursor.fetchall()}
    # Rows of migrations the code no longer has (removed, squashed away) do not count.
    return digest(applied & code_migrations())


def organizations_behind() -> list[str]:
    """Schemas of organizations whose recorded digest is not the code's (one query)."""
    from tenants.models import Organization

    return list(
        Organization.objects.exclude(schema_name=get_public_schema_name())
        .exclude(status=Organization.Status.PROVISIONING)
        .exclude(migration_digest=code_digest())
        .values_list("schema_name", flat=True)
    )


def record_schema_digest(schema_name: str) -> None:
    """Store what a schema now holds on its organization's row (no row: nothing to do)."""
    from tenants.models import Organization

    if schema_name == get_public_schema_name():
        return
    Organization.objects.filter(schema_name=schema_name).update(
        migration_digest=schema_digest(schema_name)
    )


@receiver(schema_migrated)
def _schema_migrated(sender: Any, schema_name: str, **kwargs: Any) -> None:
    # Sent in whichever process migrated the schema, parallel executors' children included,
    # with the connection in that schema: the row is in the public one.
    with schema_context(get_public_schema_name()):
        record_schema_digest(schema_name)
