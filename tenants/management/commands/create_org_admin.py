"""Create (or reset) an organization's admin and print a one-time set-password link."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import AuraError
from tenants.models import Organization
from tenants.services import organization_admin_invite, organization_admin_url


class Command(BaseCommand):
    help = (
        "Create an organization's admin user in its schema, or reset an existing one (its old "
        "password stops working), and print a link to choose a password; the link is printed "
        "alone on the last line, works once and expires (AURA_ADMIN_INVITE_VALID_SECONDS)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--email", required=True, help="the admin's email, also the user name")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = (
            Organization.objects.exclude(schema_name="public").filter(slug=options["org"]).first()
        )
        if organization is None:
            raise CommandError(f"no organization with slug {options['org']!r}")
        try:
            invite = organization_admin_invite(
                organization=organization, email=options["email"], actor="cli"
            )
        except AuraError as error:
            raise CommandError(error.message) from error
        self.stdout.write(
            f"{'Created' if invite.created else 'Reset'} admin {invite.username} of "
            f"{organization.slug}; it signs in at {organization_admin_url(organization)}. "
            f"The link below sets its password once, until {invite.expires_at:%Y-%m-%d %H:%M} UTC:"
        )
        self.stdout.write(invite.set_password_url)
