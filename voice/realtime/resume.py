"""Resumable sessions: a snapshot in Redis and a single-use token, so any web process can continue.

The snapshot is written at turn boundaries (never per frame). Provider keys are never written
into it; they are looked up again when a session resumes.

A resume token is a random value whose record in Redis (under its digest) names the session,
its organization and the API key that opened it (for a client secret, the key that minted it).
Using it deletes the record in the same script that checks it, so a token opens one socket
only; the resumed session gets a fresh token. While a session is live its socket keeps the
record and the snapshot alive; from the moment it drops both expire after the resume window, so
the window counts from the drop, however long the session lasted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings

from core.redis import redis_client, redis_key
from voice.engine.config import AgentConfig, AudioFormat, RouteConfig, ToolSpec, TurnDetectionConfig
from voice.engine.errors import InvalidRequestError
from voice.realtime.limits import session_owner_key

TOKEN_PREFIX = "rt_"

# KEYS[1] = the token's record. ARGV: the key and schema presenting it. Deleted only when they
# match, so that another key of the organization can neither use nor burn it.
_CONSUME_LUA = """
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local record = cjson.decode(raw)
if record['key'] ~= ARGV[1] or record['schema'] ~= ARGV[2] then return false end
redis.call('DEL', KEYS[1])
return record['sid']
"""

# KEYS: the snapshot, the token's record, the session's owner record (limits.py). ARGV: the
# snapshot, the window, the socket saving it. A socket that lost its session to a resume
# elsewhere must not overwrite what the new one carries on from.
_SAVE_LUA = """
local owner = redis.call('HGET', KEYS[3], 'socket')
if owner and owner ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""


@dataclass(frozen=True, slots=True)
class Snapshot:
    session_id: str
    schema_name: str
    conversation_id: str
    end_user_id: str
    config: AgentConfig
    # Text messages as (role, text, truncated, item id): what the model needs to carry on. The
    # ids travel so that a turn persisted before a crash is not stored again after the resume.
    messages: tuple[tuple[str, str, bool, str], ...]


def config_to_json(config: AgentConfig) -> dict[str, Any]:
    data = dataclasses.asdict(config)
    for stage in ("stt_routes", "llm_routes", "tts_routes"):
        for route in data[stage]:
            route.pop("api_key", None)
    return data


def config_from_json(data: dict[str, Any]) -> AgentConfig:
    turn = data.get("turn_detection")
    return AgentConfig(
        **{
            **data,
            "input_format": AudioFormat(**data["input_format"]),
            "output_format": AudioFormat(**data["output_format"]),
            "turn_detection": TurnDetectionConfig(**turn) if turn else None,
            "stt_routes": tuple(_route(r) for r in data["stt_routes"]),
            "llm_routes": tuple(_route(r) for r in data["llm_routes"]),
            "tts_routes": tuple(_route(r) for r in data["tts_routes"]),
            "tools": tuple(ToolSpec(**t) for t in data["tools"]),
            "output_modalities": tuple(data["output_modalities"]),
            "vocabulary": tuple(data.get("vocabulary", ())),
        }
    )


def _route(data: dict[str, Any]) -> RouteConfig:
    hosts = data.get("public_only")  # JSON made the tuple a list
    return RouteConfig(**{**data, "public_only": None if hosts is None else tuple(hosts)})


def snapshot_key(session_id: str) -> str:
    return redis_key("resume", session_id)


_key = snapshot_key


def _token_key(token: str) -> str:
    return redis_key("resume-token", hashlib.sha256(token.encode()).hexdigest())


def _window_s() -> int:
    return int(settings.AURA_RESUME_WINDOW_SECONDS)


def _refused() -> InvalidRequestError:
    return InvalidRequestError(
        "This session cannot be resumed (expired, already resumed, unknown or not yours); "
        "start a new one.",
        code="resume_failed",
        param="resume",
    )


async def resume_token_issue(*, session_id: str, schema_name: str, key_id: int | None) -> str:
    """A fresh single-use token for `session_id`, usable with `key_id` only."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = {"sid": session_id, "schema": schema_name, "key": str(key_id)}
    await redis_client().set(_token_key(token), json.dumps(record), ex=_window_s())
    return token


async def resume_token_consume(token: str, *, schema_name: str, key_id: int | None) -> str:
    """The session a token resumes, the token used up; raises `resume_failed` otherwise."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        raise _refused()
    session_id = await cast(Any, redis_client()).eval(
        _CONSUME_LUA, 1, _token_key(token), str(key_id), schema_name
    )
    if not session_id:
        raise _refused()
    return str(session_id)


async def resume_keep_alive(*, session_id: str, token: str) -> None:
    """A live session's token and snapshot stay valid for a window from now (called well
    within every window, so they only start to run out once the socket is gone)."""
    async with redis_client().pipeline(transaction=False) as pipe:
        pipe.expire(_token_key(token), _window_s())
        pipe.expire(_key(session_id), _window_s())
        await pipe.execute()


async def snapshot_save(snapshot: Snapshot, *, socket_id: str, token: str) -> bool:
    """Write the snapshot, and give it and the token a fresh window; False (nothing written)
    if the session has been resumed on another socket since."""
    payload = {
        "session_id": snapshot.session_id,
        "schema_name": snapshot.schema_name,
        "conversation_id": snapshot.conversation_id,
        "end_user_id": snapshot.end_user_id,
        "config": config_to_json(snapshot.config),
        "messages": [list(message) for message in snapshot.messages],
    }
    keys = (_key(snapshot.session_id), _token_key(token), session_owner_key(snapshot.session_id))
    saved = await cast(Any, redis_client()).eval(
        _SAVE_LUA, len(keys), *keys, json.dumps(payload), _window_s(), socket_id
    )
    return bool(int(saved))


async def snapshot_load(session_id: str, *, schema_name: str) -> Snapshot:
    """The snapshot of a session whose token was just used, if it is still there and of this
    tenant."""
    raw = await redis_client().get(_key(session_id))
    if raw is None:
        raise _refused()
    data = json.loads(raw)
    if data["schema_name"] != schema_name:
        raise _refused()
    return Snapshot(
        session_id=data["session_id"],
        schema_name=data["schema_name"],
        conversation_id=data["conversation_id"],
        end_user_id=data["end_user_id"],
        config=config_from_json(data["config"]),
        messages=tuple(_message(values) for values in data["messages"]),
    )


def _message(values: list[Any]) -> tuple[str, str, bool, str]:
    # Snapshots written before item ids were kept (three values) have none.
    role, text, truncated, *rest = values
    return str(role), str(text), bool(truncated), str(rest[0]) if rest else ""


async def snapshot_discard(session_id: str, *, token: str | None = None) -> None:
    """Forget a session for good: it cannot be resumed any more."""
    keys = [_key(session_id)] + ([_token_key(token)] if token else [])
    await redis_client().delete(*keys)
