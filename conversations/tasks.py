"""Background work on conversations."""

from __future__ import annotations

from celery import shared_task

from conversations.selectors import conversation_needs_summary
from conversations.services import conversation_summarize, conversations_end_stale
from tenants.tasking import TenantTask, tenant_schema_names

STALE_AFTER_SECONDS = 6 * 3600


@shared_task(base=TenantTask, name="conversations.end_stale")
def end_stale_conversations(schema_name: str, older_than_s: int = STALE_AFTER_SECONDS) -> int:
    """End conversations a crashed or vanished session left open in this organization."""
    return conversations_end_stale(older_than_s=older_than_s)


@shared_task(name="conversations.end_stale_everywhere")
def end_stale_conversations_everywhere() -> int:
    """Beat entry point: one task per organization, so one slow tenant delays no other."""
    schemas = tenant_schema_names()
    for schema_name in schemas:
        end_stale_conversations.delay(schema_name)
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
