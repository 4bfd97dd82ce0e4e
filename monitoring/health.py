"""Liveness and readiness checks (no business logic: each answers one question)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)


def database_ready() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        row: tuple[int] | None = cursor.fetchone()
        return row == (1,)


def redis_ready() -> bool:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        return bool(client.ping())
    finally:
        client.close()


def models_ready() -> bool:
    """The embedded models are loaded, when this process loads them at start-up.

    With AURA_WARM_UP_LOCAL_MODELS off they load on first use: nothing to wait for.
    """
    if not settings.AURA_WARM_UP_LOCAL_MODELS:
        return True
    from voice.engine.assembly import warmed_up

    return warmed_up()


CHECKS: dict[str, Callable[[], bool]] = {
    "database": database_ready,
    "redis": redis_ready,
    "models": models_ready,
}


def readiness() -> dict[str, bool]:
    """Each check's outcome; a check that raises counts as not ready (and is logged)."""
    results = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception:
            logger.warning("readiness check %s failed", name, exc_info=True)
            results[name] = False
    return results
