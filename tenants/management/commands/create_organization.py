from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import AuraError
from tenants.services import organization_create


class Command(BaseCommand):
    help = "Create an organization with its own schema and domain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--domain", help="defaults to <slug>.<AURA_BASE_DOMAIN>")
        parser.add_argument("--plan", default="free")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organization = organization_create(
                slug=options["slug"],
                name=options["name"],
                domain=options["domain"],
                plan=options["plan"],
            )
        except AuraError as error:
            raise CommandError(error.message) from error
        domain = organization.get_primary_domain()
        self.stdout.write(
            f"Created {organization.name} in schema {organization.schema_name} at {domain}"
        )
