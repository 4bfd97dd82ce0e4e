"""PostgreSQL and Redis: connections, pools, key namespaces, the channel layer."""

from __future__ import annotations

from typing import Any

from .environment import env

DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/aura")}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
# django-tenants sends `SET search_path` before every query unless told to send it once per
# connection and schema: half the statements of a recorded turn were those SETs. It sends it
# again after each schema switch, a new or pooled connection, a rollback and a rollback to a
# savepoint (all of which can change or revert the path; tenants/tests/test_search_path.py).
TENANT_LIMIT_SET_CALLS = True
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

REDIS_URL: str = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# The namespace of AURA's own Redis keys (sessions, limits, resume snapshots, client secrets).
AURA_REDIS_KEY_PREFIX: str = env("AURA_REDIS_KEY_PREFIX", default="aura")
# The name this process's Redis connections carry (CLIENT LIST), to tell them apart.
AURA_REDIS_CLIENT_NAME: str = env("AURA_REDIS_CLIENT_NAME", default="aura")

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
