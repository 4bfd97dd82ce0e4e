"""Reads of conversations; callers run them inside the organization's schema."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db.models import Exists, OuterRef, QuerySet

from conversations.models import SEARCH_CONFIG, Conversation, Message


def conversation_memory(*, conversation_id: str) -> str | None:
    """What the model should know of what came before its kept history, or None.

    The conversation's own summary of older turns, and for a returning end user the summary
    of their previous conversations, if the agent has memory enabled. Conversations carry an
    end user only when the organization vouched for one (voice.realtime.auth), so a visitor
    cannot name someone else and be given their memory.
    """
    conversation = Conversation.objects.select_related("agent").filter(pk=conversation_id).first()
    if conversation is None:
        return None
    parts = []
    remembers = conversation.agent is not None and conversation.agent.memory_enabled
    if conversation.end_user_id and remembers:
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


def active_conversation_sessions(*, started_before: datetime) -> list[tuple[str, str]]:
    """(conversation id, realtime session id) of the active conversations started before."""
    rows = Conversation.objects.filter(
        status=Conversation.Status.ACTIVE, started_at__lt=started_before
    ).values_list("pk", "session_id")
    return [(str(pk), session_id) for pk, session_id in rows]


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


# PostgreSQL full-text search: websearch_to_tsquery accepts any user input (quotes, OR, -word)
# without syntax errors; the English configuration stems ("booking" finds "booked").


def messages_matching(query: str) -> QuerySet[Message]:
    """Messages whose text matches a web-search style query, best match first."""
    search_query = SearchQuery(query, config=SEARCH_CONFIG, search_type="websearch")
    vector = SearchVector("text", config=SEARCH_CONFIG)
    return (
        Message.objects.annotate(search=vector, rank=SearchRank(vector, search_query))
        .filter(search=search_query)
        .order_by("-rank", "conversation_id", "position")
    )


def conversations_matching(query: str) -> QuerySet[Conversation]:
    """Conversations with at least one message matching the query."""
    search_query = SearchQuery(query, config=SEARCH_CONFIG, search_type="websearch")
    matching = Message.objects.annotate(search=SearchVector("text", config=SEARCH_CONFIG)).filter(
        conversation=OuterRef("pk"), search=search_query
    )
    return Conversation.objects.filter(Exists(matching))
