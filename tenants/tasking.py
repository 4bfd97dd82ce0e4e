"""Celery tasks that act inside one organization's schema.

A tenant task takes the schema name as its first argument (never "the current tenant", which
does not exist in a worker), enters that schema for exactly the task's run, and leaves it.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.db import use_public_schema
from tenants.models import Organization

logger = logging.getLogger(__name__)

# Organizations whose schema exists (provisioning and failed ones have none yet).
SCHEMA_STATUSES = (Organization.Status.ACTIVE, Organization.Status.SUSPENDED)


class NotAnOrganizationSchemaError(LookupError):
    """A tenant task was asked to run in a schema that is no organization's."""


def organization_schema_check(schema_name: object, *, task_name: str) -> str:
    """`schema_name` if it is an existing organization's schema; refuse (logged) otherwise.

    Never the public schema (the platform's tables), nor PostgreSQL's own (pg_catalog,
    information_schema) or any other namespace: only a name an organization row holds.
    """
    if (
        isinstance(schema_name, str)
        and schema_name != get_public_schema_name()
        and Organization.objects.filter(
            schema_name=schema_name, status__in=SCHEMA_STATUSES
        ).exists()
    ):
        return schema_name
    logger.error(
        "task refused: not an organization's schema",
        extra={"task": task_name, "schema": repr(schema_name)[:100]},
    )
    raise NotAnOrganizationSchemaError(
        f"{task_name} refused: no organization has the schema {schema_name!r:.100}"
    )


class TenantTask(Task[..., Any]):
    abstract = True

    def __call__(self, schema_name: str, *args: Any, **kwargs: Any) -> Any:
        organization_schema_check(schema_name, task_name=self.name)
        try:
            with schema_context(schema_name):
                return super().__call__(schema_name, *args, **kwargs)
        finally:
            use_public_schema()
