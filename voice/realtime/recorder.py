"""What a realtime session leaves behind: its transcript and usage, and its resume snapshot.

`SessionRecorder` owns the session's `ConversationStore` (the engine's transcript sink and
memory source, write-ahead through the journal) and its snapshot in Redis. The transport asks
it to make a turn durable before the client hears that the turn is done.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from django.conf import settings

from voice.engine.config import AgentConfig
from voice.engine.events import Item
from voice.engine.pipeline.session import VoiceSession
from voice.realtime.persistence import ConversationStore
from voice.realtime.resume import (
    Snapshot,
    resume_token_issue,
    snapshot_discard,
    snapshot_save,
)

logger = logging.getLogger(__name__)

# A turn is told done at the latest this long after it ended, journaled or not (logged).
DURABLE_WAIT_S = 10.0
Message = tuple[str, str, bool, str]


def newest_messages_within(messages: tuple[Message, ...], max_bytes: int) -> tuple[Message, ...]:
    """The most recent messages whose JSON fits in `max_bytes`, oldest first. Older ones are in
    PostgreSQL and the memory summary: resuming needs only the recent context."""
    kept: list[Message] = []
    size = 0
    for message in reversed(messages):
        size += len(json.dumps(message).encode()) + 1
        if size > max_bytes:
            break
        kept.append(message)
    return tuple(reversed(kept))


class SessionRecorder:
    def __init__(
        self,
        *,
        schema_name: str,
        session_id: str,
        socket_id: str,
        conversation_id: str,
        end_user_id: str,
        key_id: int | None,
        on_recorded: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.schema_name = schema_name
        self.session_id = session_id
        self.socket_id = socket_id
        self.end_user_id = end_user_id
        self.key_id = key_id
        self.store = ConversationStore(
            schema_name=schema_name,
            conversation_id=conversation_id,
            session_id=session_id,
            on_recorded=on_recorded,
        )
        self.resume_token: str | None = None

    @property
    def conversation_id(self) -> str:
        return self.store.conversation_id

    def start(self) -> None:
        self.store.start()

    async def recover(self) -> None:
        """A resumed session first stores what its previous process journaled and did not."""
        try:
            recovered = await self.store.recover()
        except Exception:
            logger.exception("could not read the journal of %s; left to recovery", self.session_id)
            return
        if recovered:
            logger.info("resumed %s: storing %d journaled records", self.session_id, recovered)

    async def turn_done(self, session: VoiceSession, response_id: str, config: AgentConfig) -> None:
        """Before the client hears `response.done`: the turn is journaled, the snapshot holds it."""
        if not await self.store.durable(response_id, timeout_s=DURABLE_WAIT_S):
            logger.error("turn %s not journaled within %.0f s", response_id, DURABLE_WAIT_S)
        await self.save_snapshot(session, config)

    async def truncated(self, session: VoiceSession, item_id: str) -> None:
        """Store the cut: the answer may have been recorded before the user stopped it."""
        text = session.item_text(item_id)
        if text is not None:  # None: deleted by the client meanwhile, nothing to keep
            await self.store.item_truncated(item_id, text)

    async def issue_resume_token(self) -> str:
        """A fresh single-use resume token (the snapshot it leads to is saved next)."""
        self.resume_token = await resume_token_issue(
            session_id=self.session_id, schema_name=self.schema_name, key_id=self.key_id
        )
        return self.resume_token

    async def restore(self, session: VoiceSession, snapshot: Snapshot) -> None:
        for role, text, _truncated, item_id in snapshot.messages:
            await session.add_item(Item(id=item_id, kind="message", role=role, text=text))  # type: ignore[arg-type]

    async def save_snapshot(self, session: VoiceSession, config: AgentConfig) -> None:
        if self.resume_token is None:
            return
        messages = newest_messages_within(
            session.resumable_messages(), settings.AURA_RESUME_SNAPSHOT_MAX_BYTES
        )
        try:
            await snapshot_save(
                Snapshot(
                    session_id=self.session_id,
                    schema_name=self.schema_name,
                    conversation_id=self.conversation_id,
                    end_user_id=self.end_user_id,
                    config=config,
                    messages=messages,
                ),
                socket_id=self.socket_id,
                token=self.resume_token,
            )
        except Exception:
            logger.exception("could not save the resume snapshot of %s", self.session_id)

    async def discard_snapshot(self) -> None:
        """Ended for good (goodbye, budget, operator): nothing is left to resume."""
        await snapshot_discard(self.session_id, token=self.resume_token)

    async def session_closed(
        self, session: VoiceSession, config: AgentConfig, *, ended: bool, lost: bool
    ) -> None:
        """The engine session is closed: record what no turn reported, keep or drop the
        snapshot (a socket that lost its session to a resume leaves it to its successor)."""
        # What no turn reported: audio after the last answer, a transcription without one.
        await self.store.record_usage(session.drain_usage())
        if ended:
            await self.discard_snapshot()
        elif not lost:
            await self.save_snapshot(session, config)

    async def close(self, *, timeout_s: float) -> None:
        """Write what is queued within `timeout_s`; the rest stays journaled for recovery."""
        await self.store.close(timeout_s=timeout_s)
