from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import AuraError
from tenants.models import ApiKey, Organization
from tenants.services import DEFAULT_SECRET_SCOPES, api_key_create


class Command(BaseCommand):
    help = "Issue an API key for an organization; the key is printed alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--name", default="")
        parser.add_argument("--scope", action="append", dest="scopes", help="repeatable")
        parser.add_argument("--publishable", action="store_true", help="a pk_ key for the widget")
        parser.add_argument(
            "--origin", action="append", dest="origins", default=[], help="repeatable"
        )
        parser.add_argument(
            "--agent",
            action="append",
            dest="agents",
            default=[],
            help="with --publishable: an agent the key may use (repeatable; default: the "
            "organization's default agent only)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organization = Organization.objects.get(slug=options["org"])
        except Organization.DoesNotExist as error:
            raise CommandError(f"no organization with slug {options['org']!r}") from error
        kind = ApiKey.Kind.PUBLISHABLE if options["publishable"] else ApiKey.Kind.SECRET
        try:
            issued = api_key_create(
                organization=organization,
                kind=kind,
                name=options["name"],
                scopes=options["scopes"] or DEFAULT_SECRET_SCOPES,
                allowed_origins=options["origins"],
                allowed_agents=options["agents"],
            )
        except AuraError as error:
            raise CommandError(error.message) from error
        self.stdout.write(
            f"Issued {issued.api_key.get_kind_display().lower()} key {issued.api_key.prefix}… "
            f"for {organization.slug} (scopes: {', '.join(issued.api_key.scopes)}). "
            "It is shown once; store it now."
        )
        self.stdout.write(issued.plaintext)
