"""Rotating the encryption key (stored_secrets.py and `manage.py reencrypt_secrets`): every
secret of every organization's schema moves to the new key, once, and reads back unchanged."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from core.encryption import decrypt
from tenants.stored_secrets import encrypted_fields, secrets_reencrypt
from voice.models import ProviderCredential, WebhookTool
from voice.services import provider_credential_set, webhook_tool_create

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
SECRETS = {
    "alpha": {"tool": "alpha-signing-secret-1234", "openai": "sk-alpha-" + "a" * 30},
    "beta": {"tool": "beta-signing-secret-56789", "grok": "xai-beta-" + "b" * 30},
}


def store_secrets(secrets: dict[str, str]) -> None:
    # Rows other tests' threads may have committed in these schemas would skew the counts.
    WebhookTool.objects.all().delete()
    ProviderCredential.objects.all().delete()
    webhook_tool_create(
        name="crm_lookup", url="https://crm.example.com/hook", signing_secret=secrets["tool"]
    )
    for provider, api_key in secrets.items():
        if provider != "tool":
            provider_credential_set(provider=provider, api_key=api_key)


def stored_plaintexts() -> dict[str, str]:
    """The secrets of the current schema, decrypted with the keys configured now."""
    plaintexts = {"tool": decrypt(WebhookTool.objects.get().signing_secret_encrypted)}
    for credential in ProviderCredential.objects.all():
        plaintexts[credential.provider] = decrypt(credential.api_key_encrypted)
    return plaintexts


@pytest.fixture
def secrets_under_key_a(org_alpha: Any, org_beta: Any, settings: Any) -> dict[str, str]:
    """Stores each organization's secrets under key A; returns each slug's schema name."""
    settings.AURA_ENCRYPTION_KEY = KEY_A
    schemas = {"alpha": org_alpha.schema_name, "beta": org_beta.schema_name}
    for slug, schema_name in schemas.items():
        with schema_context(schema_name):
            store_secrets(SECRETS[slug])
    return schemas


def reencrypt_command(*args: str) -> str:
    out = StringIO()
    call_command("reencrypt_secrets", *args, stdout=out)
    return out.getvalue()


def test_every_secret_field_is_found() -> None:
    found = {(model._meta.label, name) for model, name in encrypted_fields()}
    assert found >= {
        ("voice.WebhookTool", "signing_secret_encrypted"),
        ("voice.ProviderCredential", "api_key_encrypted"),
    }


def test_rotating_from_a_to_b_leaves_every_secret_readable_with_b_alone(
    secrets_under_key_a: dict[str, str], settings: Any
) -> None:
    settings.AURA_ENCRYPTION_KEY = f"{KEY_B},{KEY_A}"

    output = reencrypt_command("--org", "alpha", "--org", "beta")

    alpha, beta = secrets_under_key_a["alpha"], secrets_under_key_a["beta"]
    assert f"{alpha}: 2 re-encrypted, 0 already under the new key" in output
    assert f"{beta}: 2 re-encrypted, 0 already under the new key" in output
    assert "Re-encrypted 4 secrets in 2 schemas; 0 were already under the new key." in output
    settings.AURA_ENCRYPTION_KEY = KEY_B
    for slug, schema_name in secrets_under_key_a.items():
        with schema_context(schema_name):
            assert stored_plaintexts() == SECRETS[slug]


def test_a_second_run_changes_nothing(secrets_under_key_a: dict[str, str], settings: Any) -> None:
    settings.AURA_ENCRYPTION_KEY = f"{KEY_B},{KEY_A}"
    reencrypt_command("--org", "alpha", "--org", "beta")
    with schema_context(secrets_under_key_a["alpha"]):
        before = WebhookTool.objects.get().signing_secret_encrypted

    output = reencrypt_command("--org", "alpha", "--org", "beta")

    assert "Re-encrypted 0 secrets in 2 schemas; 4 were already under the new key." in output
    with schema_context(secrets_under_key_a["alpha"]):
        assert WebhookTool.objects.get().signing_secret_encrypted == before


def test_without_a_scope_every_organizations_schema_is_rotated(
    secrets_under_key_a: dict[str, str], settings: Any
) -> None:
    settings.AURA_ENCRYPTION_KEY = f"{KEY_B},{KEY_A}"

    report = secrets_reencrypt()

    for schema_name in secrets_under_key_a.values():
        assert report.reencrypted[schema_name] == 2
    settings.AURA_ENCRYPTION_KEY = KEY_B
    for slug, schema_name in secrets_under_key_a.items():
        with schema_context(schema_name):
            assert stored_plaintexts() == SECRETS[slug]


def test_a_secret_no_key_opens_is_reported_and_left_as_it_was(
    secrets_under_key_a: dict[str, str], settings: Any
) -> None:
    alpha = secrets_under_key_a["alpha"]
    with schema_context(alpha):
        foreign = Fernet(Fernet.generate_key()).encrypt(b"lost").decode()
        ProviderCredential.objects.filter(provider="openai").update(api_key_encrypted=foreign)
    settings.AURA_ENCRYPTION_KEY = f"{KEY_B},{KEY_A}"

    with pytest.raises(CommandError, match=rf"1 secrets open with no configured key.*{alpha}"):
        reencrypt_command("--org", "alpha", "--org", "beta")

    settings.AURA_ENCRYPTION_KEY = KEY_B
    with schema_context(alpha):
        assert ProviderCredential.objects.get(provider="openai").api_key_encrypted == foreign
        assert (
            decrypt(WebhookTool.objects.get().signing_secret_encrypted)
            == "alpha-signing-secret-1234"
        )
    with schema_context(secrets_under_key_a["beta"]):
        assert stored_plaintexts() == SECRETS["beta"]


def test_secrets_from_before_a_key_was_set_move_with_from_secret_key(
    org_alpha: Any, settings: Any
) -> None:
    settings.AURA_ENCRYPTION_KEY = ""  # the key derived from SECRET_KEY
    with schema_context(org_alpha.schema_name):
        store_secrets(SECRETS["alpha"])
    settings.AURA_ENCRYPTION_KEY = KEY_B

    with pytest.raises(CommandError, match="--from-secret-key"):
        reencrypt_command("--org", "alpha")
    reencrypt_command("--org", "alpha", "--from-secret-key")

    with schema_context(org_alpha.schema_name):
        assert stored_plaintexts() == SECRETS["alpha"]


def test_an_unknown_organization_is_a_command_error(db: None) -> None:
    with pytest.raises(CommandError, match="no organization nowhere"):
        reencrypt_command("--org", "nowhere")
