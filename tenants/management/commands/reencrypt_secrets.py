from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.models import Organization
from tenants.stored_secrets import secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (webhook signing secrets, provider keys) of every "
        "organization under the first key of AURA_ENCRYPTION_KEY; run it after putting a new "
        "key first, before removing the old one. Safe to run again: secrets already under the "
        "first key are left as they are."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--org",
            action="append",
            dest="slugs",
            help="only this organization (slug; repeatable); default: every one",
        )
        parser.add_argument(
            "--from-secret-key",
            action="store_true",
            help="also open secrets encrypted with the key derived from SECRET_KEY "
            "(stored while AURA_ENCRYPTION_KEY was unset)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = secrets_reencrypt(
                slugs=options["slugs"], also_secret_key_derived=options["from_secret_key"]
            )
        except Organization.DoesNotExist as error:
            raise CommandError(str(error)) from error
        for schema_name, count in report.reencrypted.items():
            current = report.already_current[schema_name]
            if count or current:
                self.stdout.write(
                    f"{schema_name}: {count} re-encrypted, {current} already under the new key"
                )
        self.stdout.write(
            f"Re-encrypted {report.total_reencrypted} secrets in {len(report.reencrypted)} "
            f"schemas; {report.total_already_current} were already under the new key."
        )
        if report.unreadable:
            listed = ", ".join(
                f"{secret.schema_name} {secret.model} #{secret.pk} ({secret.field})"
                for secret in report.unreadable
            )
            raise CommandError(
                f"{len(report.unreadable)} secrets open with no configured key and were left "
                f"as they were: {listed}. Add the key they were stored with to "
                "AURA_ENCRYPTION_KEY (after the first), or --from-secret-key if they predate it."
            )
