"""Production settings refuse to start without an encryption key of their own, and keep
tenants' URLs on https (aura_project/settings/prod.py), loaded as a real process loads them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

REPO_ROOT = Path(__file__).resolve().parents[3]
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "aura_project.settings.prod",
    "SECRET_KEY": "a-long-random-production-secret-for-the-test",
    "ALLOWED_HOSTS": ".voice.example.com",
}
SHOW = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.AURA_TENANT_URLS_ALLOW_HTTP)"
)


def load_production_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AURA_") and name not in PRODUCTION
    }
    return subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=REPO_ROOT,
        env={**clean, **PRODUCTION, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_an_encryption_key() -> None:
    result = load_production_settings()
    assert result.returncode != 0
    assert "ImproperlyConfigured: AURA_ENCRYPTION_KEY must be set in production" in result.stderr
    assert "Fernet.generate_key()" in result.stderr  # how to make one


def test_production_refuses_a_key_that_is_not_a_fernet_key() -> None:
    good = Fernet.generate_key().decode()
    result = load_production_settings(AURA_ENCRYPTION_KEY=f"{good},secret-key-2")
    assert result.returncode != 0
    assert "key 2 of AURA_ENCRYPTION_KEY is not a Fernet key" in result.stderr


def test_production_starts_with_keys_and_refuses_plain_http_even_if_asked() -> None:
    keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    result = load_production_settings(AURA_ENCRYPTION_KEY=keys, AURA_TENANT_URLS_ALLOW_HTTP="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
