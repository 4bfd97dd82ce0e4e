"""The write-ahead journal of a deployment's realtime sessions: one Redis stream.

Every record a session owes PostgreSQL (a finished turn, an answer cut to what was heard, the
usage left when the session ends) is appended here before the client is told the turn is
done, then written to PostgreSQL by the session's writer, which deletes it from the stream.
What a process could not write before it died stays in the stream: the resumed session, or the
recovery task (`voice.tasks.recover_realtime_sessions`), writes it. Writing is idempotent by
record id (`conversations.services.turn_record_claim`), so two writers of one record store it
once.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.redis import redis_client, redis_key, redis_sync_client
from voice.engine.ports import TurnReport

logger = logging.getLogger(__name__)

APPEND_ATTEMPTS = 3
READ_BATCH = 200


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """What one turn (or a cut, or the usage left at the end) adds to a conversation."""

    schema_name: str
    conversation_id: str
    session_id: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    # The turn's metrics (response id, latencies, status); empty for a cut or for usage only.
    metrics: dict[str, Any] = field(default_factory=dict)
    usage: list[dict[str, Any]] = field(default_factory=list)
    # (item id, the text that was heard) of answers cut after their turn was recorded.
    truncations: list[tuple[str, str]] = field(default_factory=list)
    record_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def of_turn(
        cls,
        report: TurnReport,
        *,
        schema_name: str,
        conversation_id: str,
        session_id: str,
        messages: list[dict[str, Any]],
    ) -> TurnRecord:
        """The record of a finished turn, its metrics and usage in the journal's JSON form:
        the engine's field names, as every earlier version wrote them (entries outlive a
        deploy, so the form may only grow)."""
        return cls(
            schema_name=schema_name,
            conversation_id=conversation_id,
            session_id=session_id,
            messages=messages,
            metrics=asdict(report.metrics),
            usage=[usage.as_dict() for usage in report.usage],
        )

    @property
    def response_id(self) -> str:
        """The response whose turn this is; empty for a cut or for usage only."""
        return str(self.metrics.get("response_id") or "")

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> TurnRecord:
        data = json.loads(raw)
        data["truncations"] = [tuple(pair) for pair in data.get("truncations") or []]
        return cls(**data)


def journal_key() -> str:
    return redis_key("turn-journal")


async def journal_append(record: TurnRecord) -> str:
    """Append a record; its stream id. Retried on a dropped connection (the pool reconnects);
    raises if Redis stays unreachable."""
    for attempt in range(1, APPEND_ATTEMPTS + 1):
        try:
            entry_id = await redis_client().xadd(journal_key(), {"record": record.to_json()})
            return str(entry_id)
        except (RedisConnectionError, RedisTimeoutError):
            if attempt == APPEND_ATTEMPTS:
                raise
            logger.warning("journal append failed (attempt %d); retrying", attempt)
    raise AssertionError("unreachable")


async def journal_remove(entry_id: str) -> None:
    """The record is in PostgreSQL: drop it (a failure only leaves work for recovery)."""
    try:
        await redis_client().xdel(journal_key(), entry_id)
    except Exception:
        logger.warning("could not drop journal entry %s; recovery will skip it", entry_id)


async def journal_entries_of(session_id: str) -> list[tuple[str, TurnRecord]]:
    """The records one session still owes PostgreSQL (its previous process died)."""
    found = []
    start = "-"
    while True:
        batch: list[Any] = await redis_client().xrange(journal_key(), min=start, count=READ_BATCH)  # type: ignore[assignment]
        for entry_id, fields in batch:
            record = _decoded(entry_id, fields)
            if record is not None and record.session_id == session_id:
                found.append((str(entry_id), record))
        if len(batch) < READ_BATCH:
            return found
        start = "(" + str(batch[-1][0])


def journal_entries_older_than(seconds: float) -> Iterator[tuple[str, TurnRecord]]:
    """Records appended more than `seconds` ago (blocking client: Celery tasks only)."""
    client = redis_sync_client()
    until_ms = int((time.time() - seconds) * 1000)
    start = "-"
    while True:
        batch: list[Any] = client.xrange(journal_key(), min=start, max=str(until_ms), count=100)  # type: ignore[assignment]
        for entry_id, fields in batch:
            record = _decoded(entry_id, fields)
            if record is None:
                client.xdel(journal_key(), str(entry_id))
            else:
                yield str(entry_id), record
        if len(batch) < 100:
            return
        start = "(" + str(batch[-1][0])


def journal_remove_sync(entry_id: str) -> None:
    redis_sync_client().xdel(journal_key(), entry_id)


def journal_length_sync() -> int:
    return int(redis_sync_client().xlen(journal_key()))


def _decoded(entry_id: Any, fields: Any) -> TurnRecord | None:
    try:
        return TurnRecord.from_json(fields["record"])
    except (KeyError, TypeError, ValueError):
        logger.error("journal entry %s is unreadable", entry_id)
        return None
