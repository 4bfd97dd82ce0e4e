"""Local development: `make run`. Refuses to load where AURA_ENV=production."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

if env("AURA_ENV", default="development") == "production":
    raise ImproperlyConfigured(
        "aura_project.settings.dev refuses to run where AURA_ENV=production (debug mode, "
        "insecure defaults): set DJANGO_SETTINGS_MODULE=aura_project.settings.prod."
    )
DEBUG = env.bool("DEBUG", default=True)
# Webhooks and routes may use plain http here (a local endpoint, a tunnel); never in prod.
AURA_TENANT_URLS_ALLOW_HTTP = env.bool("AURA_TENANT_URLS_ALLOW_HTTP", default=True)
# Links printed for the demo (its admin's set-password link) point at `make run`'s daphne.
AURA_PUBLIC_SCHEME = env("AURA_PUBLIC_SCHEME", default="http")
AURA_PUBLIC_PORT = env("AURA_PUBLIC_PORT", default=env("PORT", default="8000"))
# `aura_setup` creates the demo organization (and its admin) in development only.
AURA_CREATE_DEMO = True
