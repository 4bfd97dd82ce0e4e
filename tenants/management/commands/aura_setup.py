"""Bring a database up to date for serving: migrations, the platform row, and in development
the demo organization with its admin.

Idempotent and quiet when there is nothing to do, so `make run` can call it every time. The
demo organization is created under the development settings (AURA_CREATE_DEMO) or when asked
with `--demo`, and never under the production settings, where a public `demo` organization
with a known admin would be a door left open.
"""

from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.database import DatabaseSetupError, database_ensure_exists
from tenants.migration_state import organizations_behind
from tenants.models import Organization
from tenants.provisioning import template_ensure, template_schema
from tenants.services import (
    organization_admin_invite,
    organization_admin_url,
    organization_create,
    platform_ensure_public_tenant,
)

PLATFORM_DOMAINS = ("localhost", "127.0.0.1")
DEMO_ADMIN_EMAIL = "admin@demo.localhost"


def _unapplied_migrations(schema_name: str, app_labels: set[str]) -> int:
    with schema_context(schema_name):
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return sum(1 for migration, _backwards in plan if migration.app_label in app_labels)


def _labels(app_names: list[str]) -> set[str]:
    """Labels of the apps listed by module or by AppConfig path (as django-tenants reads them)."""
    return {
        config.label
        for config in apps.get_app_configs()
        if config.name in app_names
        or f"{type(config).__module__}.{type(config).__name__}" in app_names
    }


class Command(BaseCommand):
    help = "Migrate shared and tenant schemas if needed and make sure the demo organization exists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--demo",
            action="store_true",
            help="create the demo organization outside development (refused in production)",
        )
        parser.add_argument("--demo-slug", default="demo")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if database_ensure_exists(connection.settings_dict):
                self.stdout.write(f"Created database {connection.settings_dict['NAME']}")
        except DatabaseSetupError as error:
            raise CommandError(str(error)) from error
        self._migrate_if_needed()
        platform_ensure_public_tenant(domains=PLATFORM_DOMAINS)
        if self._demo_wanted(asked=options["demo"]):
            self._ensure_demo(options["demo_slug"])

    def _demo_wanted(self, *, asked: bool) -> bool:
        if settings.AURA_ENV == "production":
            if asked:
                raise CommandError(
                    "The demo organization is never created under the production settings."
                )
            return False
        return asked or settings.AURA_CREATE_DEMO

    def _ensure_demo(self, slug: str) -> None:
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            organization = organization_create(slug=slug, name=slug.title())
            self.stdout.write(f"Created organization {slug} at {organization.get_primary_domain()}")
        else:
            self.stdout.write(f"Organization {slug} is ready.")
        self._show_demo_admin(organization)

    def _show_demo_admin(self, organization: Organization) -> None:
        """Say how to get into the demo's admin; the first time, make its admin."""
        with schema_context(organization.schema_name):
            has_admin = get_user_model().objects.filter(is_superuser=True, is_active=True).exists()
        if has_admin:
            self.stdout.write(
                f"Demo admin: {organization_admin_url(organization)} (a new set-password link: "
                f"manage.py create_org_admin --org {organization.slug} --email {DEMO_ADMIN_EMAIL})"
            )
            return
        invite = organization_admin_invite(
            organization=organization, email=DEMO_ADMIN_EMAIL, actor="system:aura_setup"
        )
        self.stdout.write(
            f"Demo admin: {organization_admin_url(organization)}, user {invite.username}. "
            f"Choose its password here (valid until {invite.expires_at:%Y-%m-%d %H:%M} UTC): "
            f"{invite.set_password_url}"
        )

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
