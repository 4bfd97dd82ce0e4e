"""Throttling of failed admin sign-ins, per account and per client address.

Failures are counted in Redis by the `limits` library (moving windows, each hit one atomic Lua
script), as the REST API's rate limits are (tenants/rest/throttling.py). django-axes was
considered and not taken: its cache handler counts with a read-modify-write (`get`, then
`set(n + 1)`), so guesses sent in parallel undercount without bound; its database handler
would need its tables migrated into every organization's schema and would count an address
per schema, not across the platform.

An account is named by its schema and user name: users live in each organization's schema,
so "admin" of one organization is not "admin" of another, and failures on one domain never
lock out an account on another. An address is counted across every domain.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

from core.redis import redis_key

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SignInAttempt:
    schema_name: str
    username: str
    client_address: str


@functools.cache
def _limiter(redis_url: str, namespace: str) -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(RedisStorage(redis_url, key_prefix=namespace))


@functools.cache
def _item(limit: str) -> RateLimitItem:
    return parse(limit)


def _windows(attempt: SignInAttempt) -> list[tuple[RateLimitItem, str, str]]:
    account = f"{attempt.schema_name}:{attempt.username.strip().lower()}"
    return [
        (_item(settings.AURA_ADMIN_LOGIN_FAILURES_PER_ACCOUNT), "account", account),
        (_item(settings.AURA_ADMIN_LOGIN_FAILURES_PER_ADDRESS), "address", attempt.client_address),
    ]


def _current_limiter() -> MovingWindowRateLimiter:
    return _limiter(settings.REDIS_URL, redis_key("admin-login"))


def sign_in_retry_after_s(attempt: SignInAttempt) -> int | None:
    """Seconds until this account and address may try again; None when they may now."""
    limiter = _current_limiter()
    try:
        for item, scope, owner in _windows(attempt):
            if not limiter.test(item, scope, owner):
                reset_at = limiter.get_window_stats(item, scope, owner).reset_time
                return max(1, math.ceil(reset_at - time.time()))
    except RedisError:
        # Fail open, as the API's limits do: an outage of Redis must not lock every admin out.
        logger.warning("sign-in throttle unavailable; attempt let through", exc_info=True)
    return None


def sign_in_failure_record(attempt: SignInAttempt) -> None:
    """Count one failed sign-in against its account's and its address's windows."""
    limiter = _current_limiter()
    try:
        for item, scope, owner in _windows(attempt):
            limiter.hit(item, scope, owner)
    except RedisError:
        logger.warning("sign-in throttle unavailable; failure not counted", exc_info=True)
    logger.warning(
        "admin sign-in failed",
        extra={"schema": attempt.schema_name, "client_address": attempt.client_address},
    )
