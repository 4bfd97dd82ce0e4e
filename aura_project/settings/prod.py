"""Production: no default secret, no wildcard hosts, secure cookies."""

from django.core.exceptions import ImproperlyConfigured

from core.encryption import parse_keys

from .base import *  # noqa: F403
from .base import AURA_ENCRYPTION_KEY, LOGGING, env

DEBUG = False
AURA_ENV = "production"
LOGGING["handlers"]["console"]["formatter"] = env("LOG_FORMAT", default="json")  # type: ignore[index]
SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY or SECRET_KEY.startswith("dev-insecure"):
    raise ImproperlyConfigured("SECRET_KEY must be set to a long random value in production.")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the served domains (no '*') in production.")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# A demo page per organization is for trying AURA out, not for a public deployment.
AURA_DEMO_PAGES = env.bool("AURA_DEMO_PAGES", default=False)
# Stored secrets get a key of their own: derived from SECRET_KEY, they would become unreadable
# the day SECRET_KEY is rotated (and one leaked value would open both).
_GENERATE_KEY = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)
try:
    _ENCRYPTION_KEYS = parse_keys(AURA_ENCRYPTION_KEY)
except ValueError as _error:
    raise ImproperlyConfigured(f"{_error}. Generate a key with: {_GENERATE_KEY}") from _error
if not _ENCRYPTION_KEYS:
    raise ImproperlyConfigured(
        "AURA_ENCRYPTION_KEY must be set in production: it encrypts the stored webhook secrets "
        f"and provider keys. Generate one with: {_GENERATE_KEY} (a deployment that stored "
        "secrets without it: docs/deployment/installation-guide.md, 'Encryption keys')."
    )
# Webhooks and organizations' provider routes over https only; hosts the operator lists in
# AURA_WEBHOOK_ALLOWED_HOSTS / AURA_PROVIDER_ALLOWED_HOSTS (its own network) are exempt.
AURA_TENANT_URLS_ALLOW_HTTP = False
