"""Message search is served by its index, not by a scan of every message (selectors.py)."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django_tenants.utils import schema_context

from conversations.selectors import conversations_matching, messages_matching


def test_searching_messages_uses_the_text_search_index(org_alpha: Any) -> None:
    with schema_context(org_alpha.schema_name), transaction.atomic():
        with connection.cursor() as cursor:
            # The tables are tiny here, so make a scan look expensive to the planner.
            cursor.execute("SET LOCAL enable_seqscan = off")
        assert "message_text_search" in messages_matching("booking").explain()
        assert "message_text_search" in conversations_matching("booking OR table").explain()
