"""Background work on conversations."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from conversations.models import Conversation
from conversations.selectors import conversation_needs_summary
from conversations.services import conversation_summarize, conversations_end_stale
from tenants.sweeps import batches, for_each_schema, schemas_having
from tenants.tasking import TenantTask

STALE_AFTER_SECONDS = 6 * 3600


@shared_task(base=TenantTask, name="conversations.end_stale")
def end_stale_conversations(schema_name: str, older_than_s: int = STALE_AFTER_SECONDS) -> int:
    """End conversations a crashed or vanished session left open in this organization."""
    return conversations_end_stale(older_than_s=older_than_s)


@shared_task(name="conversations.end_stale_batch")
def end_stale_conversations_batch(schema_names: list[str]) -> int:
    """End stale conversations in each of these organizations, one after another."""
    return for_each_schema(
        schema_names, lambda: conversations_end_stale(older_than_s=STALE_AFTER_SECONDS)
    )


@shared_task(name="conversations.end_stale_everywhere")
def end_stale_conversations_everywhere() -> int:
    """Beat entry point: only organizations that have an active conversation old enough to be
    stale (one probe each, on a partial index), in batches. Returns how many were queued."""
    cutoff = timezone.now() - timedelta(seconds=STALE_AFTER_SECONDS)
    schemas = schemas_having(Conversation, "status = 'active' AND started_at < %s", [cutoff])
    for batch in batches(schemas):
        end_stale_conversations_batch.delay(batch)
    return len(schemas)


def summarize_if_needed(schema_name: str, conversation_id: str) -> None:
    """Queue a summary when the unsummarised part of a conversation outgrows its budget.

    Runs right after a turn is committed, inside the organization's schema.
    """
    if conversation_needs_summary(conversation_id=conversation_id):
        summarize_conversation.delay(schema_name, conversation_id)


@shared_task(base=TenantTask, name="conversations.summarize")
def summarize_conversation(schema_name: str, conversation_id: str) -> bool:
    """Fold older turns into the conversation's summary with the agent's own LLM routes."""
    return conversation_summarize(conversation_id=conversation_id)
