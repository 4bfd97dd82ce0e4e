"""Limits of realtime sessions, shared by every web process, kept in Redis.

- Concurrent sessions: a lease per session in the organization's sorted set, scored by its
  expiry, and a lease per socket in its key's and its client address's sets; one Lua script
  counts and takes them atomically (no library offers a distributed counting semaphore with
  expiring leases). A live socket renews its leases; a crashed process's leases lapse.
- One socket per session: the session's owner record names the socket holding it. A resume
  takes the session over (the previous socket's slots move to the new one, in the same script);
  the previous socket notices on its next renewal, if the channel layer did not tell it first.
- Rates (responses, connects, client secrets): moving windows from the `limits` library.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from limits import RateLimitItem, RateLimitItemPerMinute, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from core.redis import redis_client, redis_key
from voice.engine.errors import AuraError

# "No cap" for a dimension that does not apply to a kind of credential.
UNLIMITED = 2**31 - 1

# KEYS: the organization's session set, the key's socket set, the address's socket set, the
# session's owner record. ARGV: now, lease expiry, the three caps, session id, socket id,
# mode ("open", "resume" or "renew").
# A renewal by a socket that is not the owner any more returns -4. A resume moves the previous
# owner's socket slots (whose set names the owner record keeps) to the new socket, so that a
# client reconnecting before the server noticed the drop does not count twice. The previous
# sets are not in KEYS: fine on one Redis server, which is what AURA uses.
_ACQUIRE_LUA = """
local now = tonumber(ARGV[1])
for i = 1, 3 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now) end
local owner = redis.call('HGET', KEYS[4], 'socket')
local mode = ARGV[8]
local previous = false
if mode == 'renew' then
  if owner and owner ~= ARGV[7] then return -4 end
elseif mode == 'resume' then
  previous = owner
end
local function held_without_previous(set)
  local held = redis.call('ZCARD', set)
  if previous and redis.call('ZSCORE', set, previous) then held = held - 1 end
  return held
end
if mode ~= 'renew' then
  if not redis.call('ZSCORE', KEYS[1], ARGV[6]) and
     redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end
  if held_without_previous(KEYS[2]) >= tonumber(ARGV[4]) then return -2 end
  if held_without_previous(KEYS[3]) >= tonumber(ARGV[5]) then return -3 end
end
if previous and previous ~= ARGV[7] then
  local previous_key_set = redis.call('HGET', KEYS[4], 'key_set')
  local previous_address_set = redis.call('HGET', KEYS[4], 'address_set')
  if previous_key_set then redis.call('ZREM', previous_key_set, previous) end
  if previous_address_set then redis.call('ZREM', previous_address_set, previous) end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[7])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[7])
redis.call('HSET', KEYS[4], 'socket', ARGV[7], 'key_set', KEYS[2], 'address_set', KEYS[3])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], 86400) end
redis.call('EXPIRE', KEYS[4], math.ceil(tonumber(ARGV[2]) - now))
return redis.call('ZCARD', KEYS[1])
"""

# KEYS as above; ARGV: session id, socket id. Returns 1 if this socket still owned the session.
_RELEASE_LUA = """
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
if redis.call('HGET', KEYS[4], 'socket') ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[4])
return 1
"""


class LimitExceededError(AuraError):
    code = "rate_limit_exceeded"
    error_type = "rate_limit_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(message, code=code, param=param)
        self.retry_after_s = retry_after_s


class SessionTakenOverError(AuraError):
    """The session was resumed on another socket: this one no longer holds it."""

    code = "session_resumed_elsewhere"
    error_type = "invalid_request_error"


@dataclass(frozen=True, slots=True)
class PlanLimits:
    concurrent_sessions: int
    responses_per_minute: int


def plan_limits(plan: str) -> PlanLimits:
    configured: dict[str, dict[str, int]] = settings.AURA_PLAN_LIMITS
    values = configured.get(plan) or configured["free"]
    return PlanLimits(**values)


@dataclass(frozen=True, slots=True)
class SessionSlot:
    """What one socket holds: a share of its organization's, key's and address's caps."""

    schema_name: str
    session_id: str
    socket_id: str
    key_id: int | None
    address: str
    organization_cap: int
    key_cap: int = UNLIMITED
    address_cap: int = UNLIMITED


def slot_caps(*, plan_cap: int, kind: str) -> tuple[int, int]:
    """(per-key cap, per-address cap) of a credential kind.

    Public credentials (a widget's pk_, a browser's ek_) are capped per address; a pk_ also
    per key, to a share of the plan, so that one public key cannot hold every slot. A secret
    key is the organization's own server, often one address for all its users: uncapped.
    """
    if kind == "sk":
        return UNLIMITED, UNLIMITED
    address_cap = settings.AURA_REALTIME_SESSIONS_PER_ADDRESS
    if kind != "pk":
        return UNLIMITED, address_cap
    share: float = settings.AURA_REALTIME_PUBLISHABLE_KEY_SESSION_SHARE
    return max(1, math.floor(plan_cap * share)), address_cap


def _sessions_key(schema_name: str) -> str:
    return redis_key("sessions", schema_name)


def session_owner_key(session_id: str) -> str:
    return redis_key("session-owner", session_id)


def _slot_keys(slot: SessionSlot) -> list[str]:
    return [
        _sessions_key(slot.schema_name),
        redis_key("key-sockets", str(slot.key_id) if slot.key_id is not None else "none"),
        redis_key("address-sockets", slot.address),
        session_owner_key(slot.session_id),
    ]


def lease_seconds() -> int:
    """How long a socket's leases outlive its last renewal (its process may have died)."""
    return int(settings.AURA_SESSION_LEASE_SECONDS)


async def _acquire(slot: SessionSlot, mode: str) -> int:
    now = time.time()
    keys = _slot_keys(slot)
    held = int(
        await cast(Any, redis_client()).eval(
            _ACQUIRE_LUA,
            len(keys),
            *keys,
            now,
            now + lease_seconds(),
            slot.organization_cap,
            slot.key_cap,
            slot.address_cap,
            slot.session_id,
            slot.socket_id,
            mode,
        )
    )
    if held == -1:
        raise LimitExceededError(
            f"This organization already has {slot.organization_cap} live sessions, its plan's "
            "limit.",
            code="session_limit_reached",
        )
    if held == -2:
        raise LimitExceededError(
            f"This key already has {slot.key_cap} live sessions, its limit.",
            code="key_session_limit_reached",
        )
    if held == -3:
        raise LimitExceededError(
            f"Your address already has {slot.address_cap} live sessions, its limit.",
            code="address_session_limit_reached",
        )
    if held == -4:
        raise SessionTakenOverError("This session was resumed on another connection.")
    return held


async def session_slot_acquire(slot: SessionSlot, *, resuming: bool = False) -> int:
    """Take this socket's slots; returns the organization's number of live sessions.

    Raises LimitExceededError when the organization, the key or the address is at its cap.
    Resuming takes the session over from the socket that held it, if any.
    """
    return await _acquire(slot, "resume" if resuming else "open")


async def session_slot_renew(slot: SessionSlot) -> int:
    """Extend this socket's leases; raises SessionTakenOverError if it lost the session."""
    return await _acquire(slot, "renew")


async def session_slot_release(slot: SessionSlot) -> bool:
    """Give this socket's slots back; True if it still held the session (not taken over)."""
    keys = _slot_keys(slot)
    released = await cast(Any, redis_client()).eval(
        _RELEASE_LUA, len(keys), *keys, slot.session_id, slot.socket_id
    )
    return bool(int(released))


async def live_sessions(schema_name: str) -> int:
    client = redis_client()
    await client.zremrangebyscore(_sessions_key(schema_name), "-inf", time.time())
    return int(await client.zcard(_sessions_key(schema_name)))


# --- moving windows ---------------------------------------------------------------------------

_limiters: dict[int, MovingWindowRateLimiter] = {}


def _limiter() -> MovingWindowRateLimiter:
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


async def _hit(item: RateLimitItem, *identifiers: str) -> tuple[bool, WindowState]:
    limiter = _limiter()
    allowed = await limiter.hit(item, *identifiers)
    stats = await limiter.get_window_stats(item, *identifiers)
    return allowed, WindowState(
        limit=item.amount,
        remaining=stats.remaining,
        reset_seconds=max(0.0, stats.reset_time - time.time()),
    )


async def response_allowed(*, schema_name: str, per_minute: int) -> WindowState:
    """Count one response against the organization's window; raise when it is used up."""
    allowed, state = await _hit(RateLimitItemPerMinute(per_minute), schema_name, "responses")
    if not allowed:
        raise LimitExceededError(
            f"Too many responses: {per_minute} a minute; try again in {state.reset_seconds:.0f} s.",
            retry_after_s=max(1, math.ceil(state.reset_seconds)),
        )
    return state


async def responses_left(*, schema_name: str, per_minute: int) -> bool:
    """Whether the organization's response window has room, without counting anything."""
    return bool(await _limiter().test(RateLimitItemPerMinute(per_minute), schema_name, "responses"))


async def rate_hit(limit: str, what: str, owner: str, *, code: str, message: str) -> None:
    """Count one `what` of `owner` against `limit` ("N/minute"); raise when it is used up."""
    allowed, state = await _hit(parse(limit), what, owner)
    if not allowed:
        retry_after_s = max(1, math.ceil(state.reset_seconds))
        raise LimitExceededError(
            f"{message} ({limit}); try again in {retry_after_s} s.",
            code=code,
            retry_after_s=retry_after_s,
        )


async def connect_allowed_from(address: str) -> None:
    """Count a connection attempt from a client address (before any credential check)."""
    await rate_hit(
        settings.AURA_REALTIME_CONNECTS_PER_ADDRESS,
        "connects-address",
        address,
        code="connect_rate_exceeded",
        message="Too many connections from your address",
    )


async def connect_allowed_with(key_id: int) -> None:
    """Count a connection with a key (an ek_ counts against the key that minted it)."""
    await rate_hit(
        settings.AURA_REALTIME_CONNECTS_PER_KEY,
        "connects-key",
        str(key_id),
        code="connect_rate_exceeded",
        message="Too many connections with this key",
    )


async def connect_admitted(*, kind: str | None, key_id: int | None, address: str) -> None:
    """Count a connection attempt against its address's and its key's connect rates.

    Public clients are counted: every attempt from an address (refused ones too: guessing
    keys costs the same), and every connection with a publishable key or a client secret (by
    the key that minted it). A secret key's own connections are not: that is an organization's
    server opening its users' sessions, bounded by the plan. Raises `connect_rate_exceeded`.
    """
    if kind == "sk":
        return
    await connect_allowed_from(address)
    if key_id is not None:
        await connect_allowed_with(key_id)


async def client_secret_allowed_from(address: str) -> None:
    """Count a `POST /v1/realtime/client_secrets` from an address (before the key is checked)."""
    await rate_hit(
        settings.AURA_CLIENT_SECRETS_RATE_PER_ADDRESS,
        "client-secrets-address",
        address,
        code="rate_limit_exceeded",
        message="Too many client secret requests from your address",
    )


async def client_secret_allowed_for(key_id: int) -> None:
    """Count a client secret minted with a key."""
    await rate_hit(
        settings.AURA_CLIENT_SECRETS_RATE_PER_KEY,
        "client-secrets-key",
        str(key_id),
        code="rate_limit_exceeded",
        message="Too many client secrets minted with this key",
    )
