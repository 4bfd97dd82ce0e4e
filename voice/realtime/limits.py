"""Per-organization limits shared by every web process, kept in Redis.

- Concurrent sessions: a lease per session in a sorted set scored by its expiry, taken and
  counted atomically by one Lua script (no library offers a distributed counting semaphore
  with expiring leases); a live session renews its lease, a crashed process's leases lapse.
- Responses per minute: a moving window from the `limits` library (Redis storage).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from aura_project.redis import redis_client, redis_key
from voice.engine.errors import AuraError

LEASE_SECONDS = 90

# KEYS[1] = the organization's session set; ARGV = now, lease expiry, cap, session id.
_ACQUIRE_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  return redis.call('ZCARD', KEYS[1])
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return -1
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], 86400)
return redis.call('ZCARD', KEYS[1])
"""


class LimitExceededError(AuraError):
    code = "rate_limit_exceeded"
    error_type = "rate_limit_error"


@dataclass(frozen=True, slots=True)
class PlanLimits:
    concurrent_sessions: int
    responses_per_minute: int


def plan_limits(plan: str) -> PlanLimits:
    configured: dict[str, dict[str, int]] = settings.AURA_PLAN_LIMITS
    values = configured.get(plan) or configured["free"]
    return PlanLimits(**values)


def _sessions_key(schema_name: str) -> str:
    return redis_key("sessions", schema_name)


async def session_slot_acquire(*, schema_name: str, session_id: str, cap: int) -> int:
    """Take (or renew) this session's lease; returns the number of live sessions.

    Raises LimitExceededError when the organization already holds `cap` sessions.
    """
    now = time.time()
    held = await cast(Any, redis_client()).eval(
        _ACQUIRE_LUA, 1, _sessions_key(schema_name), now, now + LEASE_SECONDS, cap, session_id
    )
    if int(held) < 0:
        raise LimitExceededError(
            f"This organization already has {cap} live sessions, its plan's limit.",
            code="session_limit_reached",
        )
    return int(held)


async def session_slot_release(*, schema_name: str, session_id: str) -> None:
    await redis_client().zrem(_sessions_key(schema_name), session_id)


async def live_sessions(schema_name: str) -> int:
    client = redis_client()
    await client.zremrangebyscore(_sessions_key(schema_name), "-inf", time.time())
    return int(await client.zcard(_sessions_key(schema_name)))


_limiters: dict[int, MovingWindowRateLimiter] = {}


def _limiter() -> MovingWindowRateLimiter:
    import asyncio

    loop_id = id(asyncio.get_running_loop())
    if loop_id not in _limiters:
        storage = RedisStorage(
            "async+" + settings.REDIS_URL, implementation="redispy", key_prefix=redis_key("limits")
        )
        _limiters[loop_id] = MovingWindowRateLimiter(storage)
    return _limiters[loop_id]


@dataclass(frozen=True, slots=True)
class WindowState:
    limit: int
    remaining: int
    reset_seconds: float


async def response_allowed(*, schema_name: str, per_minute: int) -> WindowState:
    """Count one response against the organization's window; raise when it is used up."""
    item = RateLimitItemPerMinute(per_minute)
    limiter = _limiter()
    allowed = await limiter.hit(item, schema_name, "responses")
    stats = await limiter.get_window_stats(item, schema_name, "responses")
    state = WindowState(
        limit=per_minute,
        remaining=stats.remaining,
        reset_seconds=max(0.0, stats.reset_time - time.time()),
    )
    if not allowed:
        raise LimitExceededError(
            f"Too many responses: {per_minute} a minute; try again in {state.reset_seconds:.0f} s."
        )
    return state
