"""Reads of conversations; callers run them inside the organization's schema."""

from __future__ import annotations

from django.conf import settings

from conversations.models import Conversation, Message


def conversation_memory(*, conversation_id: str) -> str | None:
    """What the model should know of what came before its kept history, or None.

    The conversation's own summary of older turns, and for a returning end user the summary
    of their previous conversations.
    """
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        return None
    parts = []
    if conversation.end_user_id:
        earlier = (
            Conversation.objects.filter(end_user_id=conversation.end_user_id)
            .exclude(pk=conversation.pk)
            .exclude(summary="")
            .order_by("-started_at")
            .values_list("summary", flat=True)[:3]
        )
        if earlier:
            parts.append(
                "From earlier conversations with this user: " + " ".join(reversed(earlier))
            )
    if conversation.summary:
        parts.append(conversation.summary)
    return "\n".join(parts) or None


def unsummarized_messages(conversation: Conversation) -> list[Message]:
    return list(conversation.messages.filter(position__gt=conversation.summarized_through))


def conversation_needs_summary(*, conversation_id: str) -> bool:
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        return False
    pending = unsummarized_messages(conversation)
    pending_chars = sum(len(message.text) for message in pending)
    # Recent turns stay verbatim in the model's context; only what is beyond them is folded.
    return len(pending) > settings.AURA_MEMORY_KEEP_MESSAGES and (
        pending_chars > settings.AURA_MEMORY_SUMMARY_AFTER_CHARS
    )
