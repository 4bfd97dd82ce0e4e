"""Settings shared by every environment; values come from the environment (12-factor).

Django's own settings and the tenancy live here; each concern has a module of its own, gathered
below so that `from .base import *` (dev, test, prod) still sees every setting.
"""

from __future__ import annotations

import os

import django_stubs_ext

from .api import *  # noqa: F403
from .celery import *  # noqa: F403
from .environment import *  # noqa: F403
from .environment import BASE_DIR, env
from .logs import *  # noqa: F403
from .pricing import *  # noqa: F403
from .realtime import *  # noqa: F403
from .security import *  # noqa: F403
from .stores import *  # noqa: F403

# Before any admin module is imported: lets ModelAdmin and its kin take type arguments.
django_stubs_ext.monkeypatch()

SECRET_KEY: str = env("SECRET_KEY", default="dev-insecure-secret-key-change-me")
DEBUG: bool = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[".localhost", "127.0.0.1"])

# --- Multi-tenancy (django-tenants): one PostgreSQL schema per organization ----------------
ADMIN_APP = "core.admin_apps.AuraAdminConfig"
SHARED_APPS = [
    "daphne",
    "django_tenants",
    "tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic",
    "django.contrib.staticfiles",
    # Django's admin, its default site being the platform's (organizations get their own).
    ADMIN_APP,
    "channels",
    "django_celery_beat",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]
# Conversation, voice and usage data never live in the public schema. `monitoring` is a tenant
# app only: its models (usage and rollups) are per organization, and it has none in `public`.
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    ADMIN_APP,
    "voice",
    "conversations",
    "monitoring",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Organization"
TENANT_DOMAIN_MODEL = "tenants.Domain"
# New organizations' schemas are copied from this migrated template (tenants/provisioning.py);
# empty: migrate each new schema instead (slower).
AURA_TENANT_TEMPLATE_SCHEMA: str = env("AURA_TENANT_TEMPLATE_SCHEMA", default="aura_template")
# `aura_setup` migrates organizations with django-tenants' "standard" executor (one by one) or
# "multiprocessing" (TENANT_MULTIPROCESSING_MAX_PROCESSES processes; docs/deployment/scaling.md).
AURA_MIGRATION_EXECUTOR: str = env("AURA_MIGRATION_EXECUTOR", default="standard")
TENANT_MULTIPROCESSING_MAX_PROCESSES: int = env.int(
    "TENANT_MULTIPROCESSING_MAX_PROCESSES", default=os.cpu_count() or 2
)
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "aura_project.urls_public"
ROOT_URLCONF = "aura_project.urls_tenants"
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)

MIDDLEWARE = [
    # Static files (the voice widget): the same on every domain, before tenant resolution,
    # with Access-Control-Allow-Origin: * for embedding. First, because it is async: a static
    # file is then served on daphne's event loop without a hop through the sync middleware's
    # thread.
    "servestatic.middleware.ServeStaticMiddleware",
    "monitoring.middleware.HealthCheckMiddleware",
    "tenants.middleware.OrganizationMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# "production" where the deployment is one: the development settings refuse to load there
# (the image sets it; the production settings module sets it whatever the environment says).
AURA_ENV: str = env("AURA_ENV", default="development")
# Whether `aura_setup` creates the demo organization unasked: development settings only
# (`aura_setup --demo` elsewhere); never from the environment, so never by accident.
AURA_CREATE_DEMO = False
# Each organization's domain serves a demo page with a working voice widget at `/` (its key
# derived). Off by default in production.
AURA_DEMO_PAGES: bool = env.bool("AURA_DEMO_PAGES", default=True)
# The origins the demo key works from, `{domain}` standing for each of the organization's
# domains: configuration, never a request's Host header. By default the port daphne serves on
# (honcho and the Procfile set PORT).
AURA_DEMO_PAGE_ORIGINS: list[str] = env.list(
    "AURA_DEMO_PAGE_ORIGINS", default=[f"http://{{domain}}:{env('PORT', default='8000')}"]
)

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- AURA ----------------------------------------------------------------------------------------
# The host tenants' domains hang off in development: <slug>.localhost.
AURA_BASE_DOMAIN: str = env("AURA_BASE_DOMAIN", default="localhost")

# Thread pools of their own, so that one kind of blocking call cannot starve another: the ORM
# calls of async code (also the most database connections one process holds), and the DNS
# lookups of tenants' URLs, each of which fails after AURA_DNS_TIMEOUT_SECONDS.
AURA_DATABASE_WORKERS: int = env.int("AURA_DATABASE_WORKERS", default=8)
AURA_DNS_WORKERS: int = env.int("AURA_DNS_WORKERS", default=4)
AURA_DNS_TIMEOUT_SECONDS: float = env.float("AURA_DNS_TIMEOUT_SECONDS", default=5.0)
