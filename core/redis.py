"""One asyncio Redis client per process (connection pool), for short-lived shared state."""

from __future__ import annotations

import redis
import redis.asyncio as aioredis
from django.conf import settings

_clients: dict[int, aioredis.Redis] = {}


def redis_key(*parts: str) -> str:
    """A key in AURA's namespace, so that deployments (or test runs) sharing a Redis server
    never see each other's sessions, limits or resume snapshots."""
    return ":".join((settings.AURA_REDIS_KEY_PREFIX, *parts))


def redis_client() -> aioredis.Redis:
    """The client bound to the running event loop (a pool cannot be shared across loops)."""
    import asyncio

    loop_id = id(asyncio.get_running_loop())
    client = _clients.get(loop_id)
    if client is None:
        client = aioredis.Redis.from_url(
            settings.REDIS_URL, decode_responses=True, client_name=settings.AURA_REDIS_CLIENT_NAME
        )
        _clients[loop_id] = client
    return client


_sync_client: redis.Redis | None = None


def redis_sync_client() -> redis.Redis:
    """A blocking client, for Celery tasks and management commands (never the event loop)."""
    global _sync_client
    if _sync_client is None:
        _sync_client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    return _sync_client
