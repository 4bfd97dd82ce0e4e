"""Resumable sessions: a snapshot in Redis and a signed token, so any web process can continue.

The snapshot is written at turn boundaries (never per frame) and expires with the resume window.
Provider keys are never written into it; they are looked up again when a session resumes.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing

from aura_project.redis import redis_client, redis_key
from voice.engine.config import AgentConfig, AudioFormat, RouteConfig, ToolSpec, TurnDetectionConfig
from voice.engine.errors import InvalidRequestError

SALT = "aura.realtime.resume"


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
        }
    )


def _route(data: dict[str, Any]) -> RouteConfig:
    hosts = data.get("public_only")  # JSON made the tuple a list
    return RouteConfig(**{**data, "public_only": None if hosts is None else tuple(hosts)})


def _key(session_id: str) -> str:
    return redis_key("resume", session_id)


def resume_token(session_id: str, schema_name: str) -> str:
    return signing.dumps({"sid": session_id, "schema": schema_name}, salt=SALT, compress=True)


async def snapshot_save(snapshot: Snapshot) -> None:
    payload = {
        "session_id": snapshot.session_id,
        "schema_name": snapshot.schema_name,
        "conversation_id": snapshot.conversation_id,
        "end_user_id": snapshot.end_user_id,
        "config": config_to_json(snapshot.config),
        "messages": [list(message) for message in snapshot.messages],
    }
    await redis_client().set(
        _key(snapshot.session_id), json.dumps(payload), ex=settings.AURA_RESUME_WINDOW_SECONDS
    )


async def snapshot_load(token: str, *, schema_name: str) -> Snapshot:
    """The snapshot a token points at, if it is still inside the window and of this tenant."""
    refused = InvalidRequestError(
        "This session cannot be resumed (expired, unknown or not yours); start a new one.",
        code="resume_failed",
        param="resume",
    )
    try:
        claims = signing.loads(token, salt=SALT, max_age=settings.AURA_RESUME_WINDOW_SECONDS)
    except signing.BadSignature as error:
        raise refused from error
    if not isinstance(claims, dict) or claims.get("schema") != schema_name:
        raise refused
    raw = await redis_client().get(_key(str(claims.get("sid"))))
    if raw is None:
        raise refused
    data = json.loads(raw)
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


async def snapshot_discard(session_id: str) -> None:
    await redis_client().delete(_key(session_id))
