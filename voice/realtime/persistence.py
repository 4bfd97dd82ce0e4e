"""The engine's transcript sink and memory source, backed by the organization's schema.

Write-ahead: each record (a turn, a cut answer, the usage left at the end) goes to the journal
(voice/realtime/journal.py) before anything else, so that once the transport tells the client
a turn is done it survives this process; one background writer per session then writes it to
PostgreSQL, retrying a dropped database connection, and drops it from the journal. Writing a
record twice stores it once (claimed by record id), so a recovery racing a slow writer is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from django.db import InterfaceError, OperationalError, transaction

from conversations.models import Conversation
from conversations.selectors import conversation_memory
from conversations.services import conversation_record_turn, message_truncate, turn_record_claim
from conversations.tasks import summarize_if_needed
from monitoring.services import usage_record
from tenants.db import in_schema
from voice.engine.llm.base import ChatMessage
from voice.engine.observability.usage import UsageRecord
from voice.engine.ports import TurnReport
from voice.realtime.journal import TurnRecord, journal_append, journal_entries_of, journal_remove

logger = logging.getLogger(__name__)
MAX_PENDING_TURNS = 64
# Backoff between attempts at a write that lost its database connection; after the last one
# the record stays in the journal for the recovery task.
RETRY_DELAYS_S = (0.1, 0.3, 1.0, 2.0)
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


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
def record_usage(record: TurnRecord) -> bool:
    """What a turn cost, in its own transaction: billed even when its transcript cannot be
    stored. A conversation deleted meanwhile leaves the usage unlinked, not lost. False if
    this record's usage was stored already."""
    if not record.usage or not turn_record_claim(key=f"{record.record_id}:usage"):
        return False
    linked = Conversation.objects.filter(pk=record.conversation_id).exists()
    usage_record(
        records=record.usage,
        conversation_id=record.conversation_id if linked else None,
        session_id=record.session_id,
        response_id=record.response_id,
    )
    return True


@transaction.atomic
def record_turn(record: TurnRecord) -> bool:
    """The turn's messages, its metrics and the cuts made to earlier answers (once); False
    if there was nothing to write or it was written already."""
    if not (record.messages or record.metrics or record.truncations):
        return False
    if not turn_record_claim(key=f"{record.record_id}:turn"):
        return False
    for item_id, text in record.truncations:
        message_truncate(conversation_id=record.conversation_id, item_id=item_id, text=text)
    if record.messages or record.metrics:
        conversation_record_turn(
            conversation_id=record.conversation_id,
            messages=record.messages,
            metrics=record.metrics,
        )
        schema_name, conversation_id = record.schema_name, record.conversation_id
        transaction.on_commit(lambda: summarize_if_needed(schema_name, conversation_id))
    return True


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
        self._pending: asyncio.Queue[tuple[str | None, TurnRecord] | None] = asyncio.Queue(
            MAX_PENDING_TURNS
        )
        self._writer: asyncio.Task[None] | None = None
        # Response ids whose turn is journaled (or stored): the transport waits for them.
        self._durable: dict[str, asyncio.Event] = {}
        # The memory summary changes only when a Celery task folds older turns, so it is read
        # when the conversation opens and after each recorded turn, never on a response's
        # critical path.
        self._summary: asyncio.Task[str | None] | None = None

    def start(self) -> None:
        self._summary = asyncio.create_task(self._read_summary(), name="conversation-memory")
        self._writer = asyncio.create_task(self._write_records(), name="conversation-writer")

    async def close(self, *, timeout_s: float | None = None) -> None:
        """Write what is queued, then stop; after `timeout_s` stop anyway (what is left is in
        the journal, for the recovery task)."""
        if self._summary is not None:
            self._summary.cancel()
            await asyncio.gather(self._summary, return_exceptions=True)
        if self._writer is None:
            return
        writer, self._writer = self._writer, None
        # A full queue means a stuck writer: the timeout below decides.
        with contextlib.suppress(asyncio.QueueFull):
            self._pending.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(writer), timeout_s)
        except TimeoutError:
            logger.warning("closing %s with writes pending: left to recovery", self.session_id)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    # --- the TranscriptSink port ----------------------------------------------------------

    async def turn_finished(self, messages: tuple[ChatMessage, ...], report: TurnReport) -> None:
        record = TurnRecord.of_turn(
            report,
            schema_name=self.schema_name,
            conversation_id=self.conversation_id,
            session_id=self.session_id,
            messages=[message_json(m) for m in messages],
        )
        await self._submit(record, response_id=record.response_id)

    async def record_usage(self, usage: Iterable[UsageRecord]) -> None:
        """Usage after the last turn (the session ended): written after the queued turns."""
        records = [record.as_dict() for record in usage]
        if records:
            await self._submit(self._record(usage=records))

    async def item_truncated(self, item_id: str, text: str) -> None:
        """An answer was cut to what was heard, possibly after its turn was recorded."""
        await self._submit(self._record(truncations=[(item_id, text)]))

    async def durable(self, response_id: str, *, timeout_s: float) -> bool:
        """Wait until the turn of `response_id` is journaled (or stored); False on timeout."""
        event = self._durable.setdefault(response_id, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            self._durable.pop(response_id, None)

    async def recover(self) -> int:
        """Queue what a previous process of this session journaled and did not store."""
        entries = await journal_entries_of(self.session_id)
        for entry_id, record in entries:
            await self._pending.put((entry_id, record))
        return len(entries)

    # --- the MemorySource port ------------------------------------------------------------

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

    # --- writing --------------------------------------------------------------------------

    def _record(self, **parts: Any) -> TurnRecord:
        return TurnRecord(
            schema_name=self.schema_name,
            conversation_id=self.conversation_id,
            session_id=self.session_id,
            **parts,
        )

    async def _submit(self, record: TurnRecord, *, response_id: str = "") -> None:
        """Journal the record (or, without Redis, store it now), then queue it for writing."""
        try:
            entry_id: str | None = await journal_append(record)
        except Exception:
            logger.exception("journal unavailable: writing %s through", record.record_id)
            await self._store(record)
            entry_id = None
        if response_id:
            self._durable.setdefault(response_id, asyncio.Event()).set()
            # Nobody waits for a response the client never saw created: keep the map small.
            while len(self._durable) > MAX_PENDING_TURNS:
                del self._durable[next(iter(self._durable))]
        if entry_id is not None:
            await self._pending.put((entry_id, record))

    async def _write_records(self) -> None:
        while (queued := await self._pending.get()) is not None:
            entry_id, record = queued
            stored = await self._store(record)
            if stored and entry_id is not None:
                await journal_remove(entry_id)
            if self._summary is not None and self._summary.done():
                self._summary = asyncio.create_task(
                    self._read_summary(), name="conversation-memory"
                )

    async def _store(self, record: TurnRecord) -> bool:
        """Write a record; False if it must stay in the journal (the database is away)."""
        # Usage first and on its own: a transcript that cannot be written (a deleted
        # conversation, a database error) must not take the bill with it.
        billed = await self._write("usage", record_usage, record)
        turned = await self._write("turn", record_turn, record)
        if billed is True and self._on_recorded is not None:
            try:
                await self._on_recorded()
            except Exception:
                logger.exception("after-record hook failed for %s", self.conversation_id)
        return billed is not None and turned is not None

    async def _write(
        self, what: str, write: Callable[[TurnRecord], Any], record: TurnRecord
    ) -> Any:
        """Run one write in the organization's schema, retrying a lost connection; None if
        it could not be written yet. Other failures are logged and not retried (a lost
        record must not end the conversation, nor be tried forever)."""
        for delay_s in (*RETRY_DELAYS_S, None):
            try:
                return await in_schema(self.schema_name, write, record)
            except TRANSIENT_ERRORS:
                if delay_s is None:
                    logger.exception("could not record the %s of %s", what, self.conversation_id)
                    return None
                logger.warning("database connection lost writing %s; retrying", record.record_id)
                await asyncio.sleep(delay_s)
            except Exception:
                logger.exception(
                    "could not record the %s of conversation %s", what, self.conversation_id
                )
                return False
        return None
