"""Bring a database up to date for serving: migrations, the platform row, the demo organization.

Idempotent and quiet when there is nothing to do, so `make run` can call it every time.
"""

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.database import DatabaseSetupError, database_ensure_exists
from tenants.migration_state import organizations_behind
from tenants.models import Organization
from tenants.provisioning import template_ensure, template_schema
from tenants.services import organization_create, platform_ensure_public_tenant

PLATFORM_DOMAINS = ("localhost", "127.0.0.1")


def _unapplied_migrations(schema_name: str, app_labels: set[str]) -> int:
    with schema_context(schema_name):
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return sum(1 for migration, _backwards in plan if migration.app_label in app_labels)


def _labels(apps: list[str]) -> set[str]:
    return {app.rsplit(".", 1)[-1] for app in apps}


class Command(BaseCommand):
    help = "Migrate shared and tenant schemas if needed and make sure the demo organization exists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--demo-slug", default="demo")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if database_ensure_exists(connection.settings_dict):
                self.stdout.write(f"Created database {connection.settings_dict['NAME']}")
        except DatabaseSetupError as error:
            raise CommandError(str(error)) from error
        self._migrate_if_needed()
        platform_ensure_public_tenant(domains=PLATFORM_DOMAINS)
        slug = options["demo_slug"]
        if not Organization.objects.filter(slug=slug).exists():
            organization = organization_create(slug=slug, name=slug.title())
            self.stdout.write(f"Created organization {slug} at {organization.get_primary_domain()}")
        else:
            self.stdout.write(f"Organization {slug} is ready.")

    def _migrate_if_needed(self) -> None:
        """One migration plan for the public schema and one query for every organization's, so
        the check costs the same with 2 organizations or 10,000."""
        pending_public = _unapplied_migrations(
            get_public_schema_name(), _labels(settings.SHARED_APPS)
        )
        behind = [] if pending_public else organizations_behind()
        if not pending_public and not behind:
            self.stdout.write("Database schemas are up to date.")
        else:
            self.stdout.write(
                f"Applying migrations to the shared schema and {len(behind) or 'every'} "
                "organization schema(s)…"
            )
            call_command(
                "migrate_schemas",
                interactive=False,
                verbosity=0,
                executor=settings.AURA_MIGRATION_EXECUTOR,
            )
            self.stdout.write("Migrations applied.")
        template = template_schema()
        if template:
            with transaction.atomic():
                template_ensure(template)
