"""Settings shared by every environment; values come from the environment (12-factor)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
ENV_FILE = BASE_DIR / ".env"
# Optional: containers and CI configure the environment directly. django-environ would log
# "... doesn't exist" for a missing file, once per process, daphne's and Celery's included.
if ENV_FILE.is_file():
    environ.Env.read_env(ENV_FILE, overwrite=False)

SECRET_KEY: str = env("SECRET_KEY", default="dev-insecure-secret-key-change-me")
DEBUG: bool = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[".localhost", "127.0.0.1"])

# --- Multi-tenancy (django-tenants): one PostgreSQL schema per organization ----------------
ADMIN_APP = "core.admin_apps.AuraAdminConfig"
SHARED_APPS = [
    "daphne",
    "django_tenants",
    "tenants",
    "monitoring",
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
# Conversation and voice data never live in the public schema.
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    ADMIN_APP,
    "voice",
    "conversations",
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

DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/aura")}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
# Realtime sessions reach the database from a pool of worker threads: each keeps its connection
# (checked before reuse) instead of paying a PostgreSQL connect on every call.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=300)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Or one psycopg pool per process, shared by its threads (docs/deployment/scaling.md): at most
# this many connections whatever the thread count; idle ones close after a minute. The pool
# is correct with per-schema search paths: django-tenants sets the path again on every
# connection a thread takes from it.
DATABASE_POOL_MAX_SIZE: int = env.int("DATABASE_POOL_MAX_SIZE", default=0)
if DATABASE_POOL_MAX_SIZE:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections instead
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_MAX_SIZE,
        "max_idle": 60.0,
        "timeout": 30.0,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL: str = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# The namespace of AURA's own Redis keys (sessions, limits, resume snapshots, client secrets).
AURA_REDIS_KEY_PREFIX: str = env("AURA_REDIS_KEY_PREFIX", default="aura")
# The name this process's Redis connections carry (CLIENT LIST), to tell them apart.
AURA_REDIS_CLIENT_NAME: str = env("AURA_REDIS_CLIENT_NAME", default="aura")
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

# --- Channels: the layer carries control messages only, never audio --------------------------
ASGI_APPLICATION = "aura_project.asgi.application"
CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 times reads out after 5 s by default, exactly channels-redis' blocking
            # pop timeout: an idle consumer's receive would then fail and drop its socket.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
            "prefix": env("CHANNEL_LAYER_PREFIX", default="aura"),
        },
    }
}

# --- Celery ------------------------------------------------------------------------------------
CELERY_BROKER_URL: str = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND: str | None = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_DEFAULT_QUEUE: str = env("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

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
# How long a rotated API key stays valid beside its successor.
AURA_KEY_ROTATION_GRACE_SECONDS: int = env.int("AURA_KEY_ROTATION_GRACE_SECONDS", default=24 * 3600)
# Keys marked auto-rotate are rotated by the beat task once they are this old.
AURA_KEY_AUTO_ROTATE_AFTER_DAYS: int = env.int("AURA_KEY_AUTO_ROTATE_AFTER_DAYS", default=90)

# LOG_FORMAT=json for machines (production), text for people (development).
LOG_FORMAT: str = env("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "monitoring.logging.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(tenant)s %(session)s %(turn)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(tenant)s %(session)s] %(message)s"
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# Synced into django-celery-beat's tables by its DatabaseScheduler; editable in the admin.
CELERY_BEAT_SCHEDULE = {
    "end-stale-conversations": {
        "task": "conversations.end_stale_everywhere",
        "schedule": 600.0,
    },
    # Usage rollups: the last hours and today, every organization (idempotent recomputation).
    "roll-up-usage": {
        "task": "monitoring.roll_up_usage_everywhere",
        "schedule": 300.0,
    },
    # Realtime durability: journaled turns a dead process did not store are stored, and
    # conversations whose session is gone for good (no lease, no snapshot) are ended.
    "recover-realtime-sessions": {
        "task": "voice.recover_realtime_sessions",
        "schedule": 60.0,
    },
    # Key lifecycle: auto-rotation by age, disabling of expired keys (both audited).
    "rotate-api-keys": {
        "task": "tenants.rotate_api_keys",
        "schedule": 3600.0,
    },
}

# Limits by plan; a live session counts against concurrent_sessions.
AURA_PLAN_LIMITS = {
    "free": {
        "concurrent_sessions": env.int("AURA_FREE_CONCURRENT_SESSIONS", default=20),
        "responses_per_minute": env.int("AURA_FREE_RESPONSES_PER_MINUTE", default=120),
    },
    "pro": {"concurrent_sessions": 200, "responses_per_minute": 1200},
    "enterprise": {"concurrent_sessions": 2000, "responses_per_minute": 12000},
}

# Memory: past this much unsummarised text (about 4 characters a token), older turns are folded
# into a summary by a Celery task; the most recent messages always stay verbatim.
AURA_MEMORY_SUMMARY_AFTER_CHARS: int = env.int("AURA_MEMORY_SUMMARY_AFTER_CHARS", default=4000)
AURA_MEMORY_KEEP_MESSAGES: int = env.int("AURA_MEMORY_KEEP_MESSAGES", default=6)
# How long a dropped realtime session can be resumed (on any web process).
AURA_RESUME_WINDOW_SECONDS: int = env.int("AURA_RESUME_WINDOW_SECONDS", default=120)
# A resume snapshot keeps the newest messages that fit in this many bytes (older ones are in
# PostgreSQL and the memory summary).
AURA_RESUME_SNAPSHOT_MAX_BYTES: int = env.int("AURA_RESUME_SNAPSHOT_MAX_BYTES", default=256 * 1024)
# How long a socket's session leases outlive its last renewal (a crashed process's lapse).
AURA_SESSION_LEASE_SECONDS: int = env.int("AURA_SESSION_LEASE_SECONDS", default=90)
# Bounded memory per realtime connection: events a second (and burst), text per item and per
# conversation, and output a client may leave unread before it is closed (1008).
AURA_REALTIME_EVENTS_PER_SECOND: float = env.float("AURA_REALTIME_EVENTS_PER_SECOND", default=200.0)
AURA_REALTIME_EVENT_BURST: int = env.int("AURA_REALTIME_EVENT_BURST", default=500)
AURA_REALTIME_MAX_ITEM_CHARS: int = env.int("AURA_REALTIME_MAX_ITEM_CHARS", default=32_000)
AURA_REALTIME_MAX_CONVERSATION_CHARS: int = env.int(
    "AURA_REALTIME_MAX_CONVERSATION_CHARS", default=256_000
)
AURA_REALTIME_MAX_UNSENT_BYTES: int = env.int(
    "AURA_REALTIME_MAX_UNSENT_BYTES", default=8 * 1024 * 1024
)
# SIGTERM: live sessions are sent elsewhere (close 1012) and their writes drained within this;
# daphne's --application-close-timeout must be longer (the Procfile and image use 30).
AURA_SHUTDOWN_GRACE_SECONDS: int = env.int("AURA_SHUTDOWN_GRACE_SECONDS", default=20)
# Above 0: every web process logs "census: N asyncio tasks, M live sessions" this often
# (leak hunting; bench/soak.py sets it).
AURA_REALTIME_CENSUS_LOG_SECONDS: float = env.float("AURA_REALTIME_CENSUS_LOG_SECONDS", default=0)
# The recovery task writes journaled turns older than this (their process is presumed gone).
AURA_TURN_JOURNAL_GRACE_SECONDS: int = env.int("AURA_TURN_JOURNAL_GRACE_SECONDS", default=30)
# Public realtime clients (a widget's pk_, a browser's ek_): live sessions per client address,
# and the share of its plan's sessions one publishable key may hold. Secret keys: the plan only.
AURA_REALTIME_SESSIONS_PER_ADDRESS: int = env.int("AURA_REALTIME_SESSIONS_PER_ADDRESS", default=10)
AURA_REALTIME_PUBLISHABLE_KEY_SESSION_SHARE: float = env.float(
    "AURA_REALTIME_PUBLISHABLE_KEY_SESSION_SHARE", default=0.5
)
# Connection attempts of public clients ("N/second|minute|hour"): per client address (refused
# attempts included) and per key (a client secret counts against the key that minted it).
AURA_REALTIME_CONNECTS_PER_ADDRESS: str = env(
    "AURA_REALTIME_CONNECTS_PER_ADDRESS", default="60/minute"
)
AURA_REALTIME_CONNECTS_PER_KEY: str = env("AURA_REALTIME_CONNECTS_PER_KEY", default="600/minute")
# POST /v1/realtime/client_secrets, per client address and per secret key.
AURA_CLIENT_SECRETS_RATE_PER_ADDRESS: str = env(
    "AURA_CLIENT_SECRETS_RATE_PER_ADDRESS", default="600/minute"
)
AURA_CLIENT_SECRETS_RATE_PER_KEY: str = env(
    "AURA_CLIENT_SECRETS_RATE_PER_KEY", default="600/minute"
)
# Proxies (addresses or CIDR networks) whose X-Forwarded-For is believed when finding a client's
# address (core/client_address.py); empty: the connection's peer is the client.
AURA_TRUSTED_PROXIES: list[str] = env.list("AURA_TRUSTED_PROXIES", default=[])
# Realtime session limits.
AURA_SESSION_IDLE_TIMEOUT_SECONDS: int = env.int("AURA_SESSION_IDLE_TIMEOUT_SECONDS", default=300)
AURA_SESSION_MAX_SECONDS: int = env.int("AURA_SESSION_MAX_SECONDS", default=3600)
# Share of user turns and spoken answers scored with DNSMOS P.835 by a Celery task (0 turns
# it off); each costs ~0.2 s of one worker core (docs/deployment/monitoring.md).
AURA_MOS_SAMPLE_RATE: float = min(1.0, max(0.0, env.float("AURA_MOS_SAMPLE_RATE", default=0.05)))
# Load the embedded models when the server starts, so that no conversation waits for them.
AURA_WARM_UP_LOCAL_MODELS: bool = env.bool("AURA_WARM_UP_LOCAL_MODELS", default=True)
# Bearer token a Prometheus scraper sends to /metrics; unset, only loopback may read it.
AURA_METRICS_TOKEN: str = env("AURA_METRICS_TOKEN", default="")
# Fernet key for secrets stored encrypted (webhook signing secrets); derived from SECRET_KEY
# when unset. Generate one with: python -c "from cryptography.fernet import Fernet;
# print(Fernet.generate_key().decode())"
AURA_ENCRYPTION_KEY: str = env("AURA_ENCRYPTION_KEY", default="")
# Hosts (names or IP addresses) that tenant webhook tools may reach even though they are
# private or loopback. Empty in production: webhooks go to the public internet only.
AURA_WEBHOOK_ALLOWED_HOSTS: list[str] = env.list("AURA_WEBHOOK_ALLOWED_HOSTS", default=[])
# The same for agents' provider routes (base_url) set by organizations, e.g. a self-hosted
# vLLM or Ollama on the private network.
AURA_PROVIDER_ALLOWED_HOSTS: list[str] = env.list("AURA_PROVIDER_ALLOWED_HOSTS", default=[])
# Plain http in URLs organizations choose (webhook tools, routes' base_url): off, so signed
# calls and tenants' keys never cross the internet in clear; dev and test settings turn it on.
# Hosts in the two lists above may use http regardless (the operator's own network).
AURA_TENANT_URLS_ALLOW_HTTP: bool = env.bool("AURA_TENANT_URLS_ALLOW_HTTP", default=False)
# Thread pools of their own, so that one kind of blocking call cannot starve another: the ORM
# calls of async code (also the most database connections one process holds), and the DNS
# lookups of tenants' URLs, each of which fails after AURA_DNS_TIMEOUT_SECONDS.
AURA_DATABASE_WORKERS: int = env.int("AURA_DATABASE_WORKERS", default=8)
AURA_DNS_WORKERS: int = env.int("AURA_DNS_WORKERS", default=4)
AURA_DNS_TIMEOUT_SECONDS: float = env.float("AURA_DNS_TIMEOUT_SECONDS", default=5.0)

# --- The admin sites (core/admin_site.py) ------------------------------------------------
LOGIN_URL = "/admin/login/"
# Failed admin sign-ins allowed per account (schema and user name) and per client address in a
# moving window ("N/<n> minutes"); past either, sign-ins are refused (429) until it passes.
AURA_ADMIN_LOGIN_FAILURES_PER_ACCOUNT: str = env(
    "AURA_ADMIN_LOGIN_FAILURES_PER_ACCOUNT", default="5/15 minutes"
)
AURA_ADMIN_LOGIN_FAILURES_PER_ADDRESS: str = env(
    "AURA_ADMIN_LOGIN_FAILURES_PER_ADDRESS", default="20/15 minutes"
)
# How long an organization admin's set-password link (create_org_admin, the invite API) works.
PASSWORD_RESET_TIMEOUT: int = env.int("AURA_ADMIN_INVITE_VALID_SECONDS", default=24 * 3600)
# How links to an organization's domain are written: <scheme>://<domain>[:<port>]/...
AURA_PUBLIC_SCHEME: str = env("AURA_PUBLIC_SCHEME", default="https")
AURA_PUBLIC_PORT: str = env("AURA_PUBLIC_PORT", default="")

# --- Usage and money -------------------------------------------------------------------------
# Prices in US dollars (strings: they become Decimals), keyed by stage, then "provider/model",
# falling back to "provider/*", then "*". The embedded local models cost nothing; audio_in /
# audio_out are the platform's own per-minute fees (none by default). Extend or override
# without a deploy through AURA_PRICES_JSON (the same shape, merged per stage). Sources: the
# providers' public price lists; keep them current (docs/api/usage-and-billing.md).
AURA_PRICES: dict[str, dict[str, dict[str, str]]] = {
    "llm": {
        "local/*": {"prompt_per_1k_tokens": "0", "completion_per_1k_tokens": "0"},
        "openai/gpt-4o-mini": {
            "prompt_per_1k_tokens": "0.00015",
            "completion_per_1k_tokens": "0.0006",
        },
        "openai/gpt-4o": {"prompt_per_1k_tokens": "0.0025", "completion_per_1k_tokens": "0.01"},
        "openai/gpt-4.1-mini": {
            "prompt_per_1k_tokens": "0.0004",
            "completion_per_1k_tokens": "0.0016",
        },
        "grok/grok-3-mini": {
            "prompt_per_1k_tokens": "0.0003",
            "completion_per_1k_tokens": "0.0005",
        },
    },
    "stt": {
        "local/*": {"per_minute": "0"},
        "openai/whisper-1": {"per_minute": "0.006"},
        "openai/gpt-4o-mini-transcribe": {"per_minute": "0.003"},
        "openai/gpt-4o-transcribe": {"per_minute": "0.006"},
    },
    "tts": {
        "local/*": {"per_1k_characters": "0"},
        "openai/tts-1": {"per_1k_characters": "0.015"},
        "openai/tts-1-hd": {"per_1k_characters": "0.03"},
        "openai/gpt-4o-mini-tts": {"per_1k_characters": "0.012"},
    },
    "audio_in": {"*": {"per_minute": "0"}},
    "audio_out": {"*": {"per_minute": "0"}},
}
for _stage, _prices in env.json("AURA_PRICES_JSON", default={}).items():
    AURA_PRICES.setdefault(_stage, {}).update(_prices)

# --- REST API (/api/v1/, core/api/, tenants/rest/) ------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.rest.authentication.SecretKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.rest.permissions.OrganizationScope"],
    "DEFAULT_THROTTLE_CLASSES": ["tenants.rest.throttling.OrganizationKeyRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.AuraPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "core.api.exceptions.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AURA REST API",
    "DESCRIPTION": "Manage an organization's agents, keys, conversations, tools and provider "
    "credentials. Authenticate with `Authorization: Bearer sk_…`. Errors are RFC 9457 problem "
    "documents. See docs/api/rest-endpoints.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.add_problem_responses",
    ],
}
# Largest JSON body the API reads.
AURA_API_MAX_BODY_BYTES: int = env.int("AURA_API_MAX_BODY_BYTES", default=256 * 1024)
# Requests per key and per organization ("N/second|minute|hour"), counted in Redis.
AURA_API_RATE_LIMIT_PER_KEY: str = env("AURA_API_RATE_LIMIT_PER_KEY", default="600/minute")
AURA_API_RATE_LIMIT_PER_ORGANIZATION: str = env(
    "AURA_API_RATE_LIMIT_PER_ORGANIZATION", default="1200/minute"
)
AURA_API_RATE_LIMIT_NAMESPACE: str = env("AURA_API_RATE_LIMIT_NAMESPACE", default="aura")
