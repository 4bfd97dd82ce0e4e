"""Rate limits of the REST API, per key and per organization, shared by every web process.

Counted in Redis by the `limits` library (moving windows, each hit one atomic Lua script),
the library the realtime side already uses for responses per minute. DRF's own throttles
keep their history in the Django cache with a read-modify-write that is not atomic, so
concurrent requests on several processes would undercount; django-ratelimit counts fixed
windows per view. A throttle class plugs `limits` into DRF, which then answers 429 with
Retry-After (core.api.exceptions).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from typing import Any

from django.conf import settings
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.redis import redis_key
from tenants.selectors import ResolvedKey

logger = logging.getLogger(__name__)


@functools.cache
def _limiter(redis_url: str) -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(RedisStorage(redis_url, key_prefix=redis_key("api-limits")))


@functools.cache
def _item(limit: str) -> RateLimitItem:
    return parse(limit)


def rate_limits(key: ResolvedKey) -> list[tuple[RateLimitItem, str, str]]:
    """(limit, what is counted, whose) for one request made with this key."""
    namespace: str = settings.AURA_API_RATE_LIMIT_NAMESPACE
    return [
        (
            _item(settings.AURA_API_RATE_LIMIT_PER_ORGANIZATION),
            f"{namespace}:organization",
            key.tenant.schema_name,
        ),
        (_item(settings.AURA_API_RATE_LIMIT_PER_KEY), f"{namespace}:key", key.prefix),
    ]


class OrganizationKeyRateThrottle(BaseThrottle):
    """Counts each request against its organization's and its key's windows."""

    retry_after_s: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ResolvedKey):
            return True  # anonymous requests are refused before any work is done
        limiter = _limiter(settings.REDIS_URL)
        try:
            for item, scope, owner in rate_limits(key):
                if not limiter.hit(item, scope, owner):
                    stats = limiter.get_window_stats(item, scope, owner)
                    self.retry_after_s = max(1, math.ceil(stats.reset_time - time.time()))
                    return False
        except RedisError:
            # Fail open: an outage of the limiter must not take the API down with it.
            logger.warning("rate limiter unavailable; request let through", exc_info=True)
        return True

    def wait(self) -> float | None:
        return self.retry_after_s
