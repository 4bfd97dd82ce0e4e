"""Celery tasks that act inside one organization's schema.

A tenant task takes the schema name as its first argument (never "the current tenant", which
does not exist in a worker), enters that schema for exactly the task's run, and leaves it.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from django_tenants.utils import schema_context

from tenants.db import use_public_schema
from tenants.models import Organization


class TenantTask(Task):
    abstract = True

    def __call__(self, schema_name: str, *args: Any, **kwargs: Any) -> Any:
        if not Organization.objects.filter(schema_name=schema_name).exists():
            raise LookupError(f"no organization has the schema {schema_name!r}")
        try:
            with schema_context(schema_name):
                return super().__call__(schema_name, *args, **kwargs)
        finally:
            use_public_schema()
