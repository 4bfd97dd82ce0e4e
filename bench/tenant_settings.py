"""Development settings plus a tenant app with one no-op migration (bench/tenants.py)."""

from aura_project.settings.dev import *  # noqa: F403
from aura_project.settings.dev import INSTALLED_APPS, TENANT_APPS

TENANT_APPS = [*TENANT_APPS, "bench.noop_tenant_app"]
INSTALLED_APPS = [*INSTALLED_APPS, "bench.noop_tenant_app"]
