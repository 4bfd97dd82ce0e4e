"""Re-encrypting every stored secret under the current encryption key (key rotation).

Stored secrets are the model fields named `*_encrypted` (core/encryption.py encrypts
them), in whichever schemas hold their tables: every organization's, and the public one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.apps import apps
from django.db import connection, models, transaction
from django_tenants.utils import schema_context

from core.encryption import DecryptionError, reencrypt
from tenants.models import Organization

ENCRYPTED_SUFFIX = "_encrypted"


@dataclass(frozen=True, slots=True)
class UnreadableSecret:
    schema_name: str
    model: str
    pk: object
    field: str


@dataclass(slots=True)
class ReencryptionReport:
    reencrypted: dict[str, int] = field(default_factory=dict)  # per schema
    already_current: dict[str, int] = field(default_factory=dict)
    unreadable: list[UnreadableSecret] = field(default_factory=list)

    @property
    def total_reencrypted(self) -> int:
        return sum(self.reencrypted.values())

    @property
    def total_already_current(self) -> int:
        return sum(self.already_current.values())


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field) that holds a secret encrypted with core.encryption."""
    return [
        (model, model_field.name)
        for model in apps.get_models()
        for model_field in model._meta.concrete_fields
        if model_field.name.endswith(ENCRYPTED_SUFFIX)
    ]


def secrets_reencrypt(
    *, slugs: Sequence[str] | None = None, also_secret_key_derived: bool = False
) -> ReencryptionReport:
    """Re-encrypt, under the first key of AURA_ENCRYPTION_KEY, every stored secret that is not
    under it yet, in every organization's schema (or those of `slugs`); a second run changes
    nothing.

    A secret no configured key opens is left as it is and reported (`unreadable`).
    `also_secret_key_derived` also tries the key derived from SECRET_KEY (secrets stored before
    AURA_ENCRYPTION_KEY was set).

    Raises:
        Organization.DoesNotExist: a slug names no organization.
    """
    organizations = Organization.objects.order_by("schema_name")
    if slugs is not None:
        missing = set(slugs) - set(
            organizations.filter(slug__in=slugs).values_list("slug", flat=True)
        )
        if missing:
            raise Organization.DoesNotExist(f"no organization {', '.join(sorted(missing))}")
        organizations = organizations.filter(slug__in=slugs)
    report = ReencryptionReport()
    for schema_name in dict.fromkeys(organizations.values_list("schema_name", flat=True)):
        _reencrypt_schema(schema_name, report, also_secret_key_derived=also_secret_key_derived)
    return report


@transaction.atomic
def _reencrypt_schema(
    schema_name: str, report: ReencryptionReport, *, also_secret_key_derived: bool
) -> None:
    report.reencrypted.setdefault(schema_name, 0)
    report.already_current.setdefault(schema_name, 0)
    with schema_context(schema_name):
        tables = set(connection.introspection.table_names())  # this schema's own only
        for model, field_name in encrypted_fields():
            if model._meta.db_table not in tables:
                continue
            rows = model._default_manager.select_for_update().values_list("pk", field_name)
            for pk, ciphertext in rows:
                try:
                    fresh = reencrypt(ciphertext, also_secret_key_derived=also_secret_key_derived)
                except DecryptionError:
                    report.unreadable.append(
                        UnreadableSecret(schema_name, model._meta.label, pk, field_name)
                    )
                    continue
                if fresh is None:
                    report.already_current[schema_name] += 1
                    continue
                model._default_manager.filter(pk=pk).update(**{field_name: fresh})
                report.reencrypted[schema_name] += 1
