"""The engine's transcript sink and memory source, backed by the organization's schema.

Turns are written by one background writer per session, so a slow database never holds up the
audio path; closing the sink drains what is queued.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from django.db import transaction

from conversations.models import Conversation
from conversations.selectors import conversation_memory
from conversations.services import conversation_record_turn, message_truncate
from conversations.tasks import summarize_if_needed
from monitoring.services import usage_record
from tenants.db import in_schema
from voice.engine.llm.base import ChatMessage

logger = logging.getLogger(__name__)
MAX_PENDING_TURNS = 64


def message_json(message: ChatMessage) -> dict[str, Any]:
    return {
        "role": message.role,
        "text": message.content,
        "item_id": message.item_id,
        "truncated": message.truncated,
        "tool_calls": [
            {"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls
        ],
        "tool_call_id": message.tool_call_id,
    }


@transaction.atomic
def _record_usage(
    conversation_id: str, usage: list[dict[str, Any]], session_id: str, response_id: str
) -> None:
    """What a turn cost, in its own transaction: billed even when its transcript cannot be
    stored. A conversation deleted meanwhile leaves the usage unlinked, not lost."""
    linked = Conversation.objects.filter(pk=conversation_id).exists()
    usage_record(
        records=usage,
        conversation_id=conversation_id if linked else None,
        session_id=session_id,
        response_id=response_id,
    )


@transaction.atomic
def _record_turn(
    conversation_id: str, messages: list[dict[str, Any]], metrics: dict[str, Any], schema_name: str
) -> None:
    """The turn's messages, its metrics and the cuts made to earlier answers."""
    for item_id, text in metrics.pop("truncations", None) or []:
        message_truncate(conversation_id=conversation_id, item_id=item_id, text=text)
    if messages or metrics:
        conversation_record_turn(
            conversation_id=conversation_id, messages=messages, metrics=metrics
        )
        transaction.on_commit(lambda: summarize_if_needed(schema_name, conversation_id))


class ConversationStore:
    """TranscriptSink and MemorySource of one conversation."""

    def __init__(
        self,
        *,
        schema_name: str,
        conversation_id: str,
        session_id: str = "",
        on_recorded: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.schema_name = schema_name
        self.conversation_id = conversation_id
        self.session_id = session_id
        # Awaited after each record is written (the transport's budget check).
        self._on_recorded = on_recorded
        self._pending: asyncio.Queue[tuple[list[dict[str, Any]], dict[str, Any]] | None] = (
            asyncio.Queue(MAX_PENDING_TURNS)
        )
        self._writer: asyncio.Task[None] | None = None
        # The memory summary changes only when a Celery task folds older turns, so it is read
        # when the conversation opens and after each recorded turn, never on a response's
        # critical path.
        self._summary: asyncio.Task[str | None] | None = None

    def start(self) -> None:
        self._summary = asyncio.create_task(self._read_summary(), name="conversation-memory")
        self._writer = asyncio.create_task(self._write_turns(), name="conversation-writer")

    async def close(self) -> None:
        """Write what is queued, then stop."""
        if self._summary is not None:
            self._summary.cancel()
            await asyncio.gather(self._summary, return_exceptions=True)
        if self._writer is None:
            return
        await self._pending.put(None)
        await self._writer
        self._writer = None

    async def turn_finished(
        self, messages: tuple[ChatMessage, ...], metrics: Mapping[str, object]
    ) -> None:
        await self._pending.put(([message_json(m) for m in messages], dict(metrics)))

    async def record_usage(self, usage: Iterable[Mapping[str, object]]) -> None:
        """Usage after the last turn (the session ended): written after the queued turns."""
        records = [dict(record) for record in usage]
        if records:
            await self._pending.put(([], {"usage": records}))

    async def item_truncated(self, item_id: str, text: str) -> None:
        """An answer was cut to what was heard, possibly after its turn was recorded."""
        await self._pending.put(([], {"truncations": [(item_id, text)]}))

    async def summary(self) -> str | None:
        if self._summary is None:
            return await self._read_summary()
        try:
            return await asyncio.shield(self._summary)
        except Exception:
            logger.exception("could not read the memory of conversation %s", self.conversation_id)
            return None

    async def _read_summary(self) -> str | None:
        return await in_schema(
            self.schema_name, conversation_memory, conversation_id=self.conversation_id
        )

    async def _write_turns(self) -> None:
        while (turn := await self._pending.get()) is not None:
            messages, metrics = turn
            # Usage first and on its own: a transcript that cannot be written (a deleted
            # conversation, a database error) must not take the bill with it.
            usage = metrics.pop("usage", None) or []
            billed = False
            if usage:
                response_id = str(metrics.get("response_id") or "")
                billed = await self._write(
                    "usage", _record_usage, usage, self.session_id, response_id
                )
            if messages or metrics:
                await self._write("turn", _record_turn, messages, metrics, self.schema_name)
            if billed and self._on_recorded is not None:
                try:
                    await self._on_recorded()
                except Exception:
                    logger.exception("after-record hook failed for %s", self.conversation_id)
            if self._summary is not None and self._summary.done():
                self._summary = asyncio.create_task(
                    self._read_summary(), name="conversation-memory"
                )

    async def _write(self, what: str, record: Callable[..., None], *args: Any) -> bool:
        """Run one write in the organization's schema; a failure is logged, never raised, so
        that a lost record does not end the conversation."""
        try:
            await in_schema(self.schema_name, record, self.conversation_id, *args)
        except Exception:
            logger.exception(
                "could not record the %s of conversation %s", what, self.conversation_id
            )
            return False
        return True
