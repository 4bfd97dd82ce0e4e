"""conversations/api.py: lists with filters and full-text search, transcripts, deletion."""

from __future__ import annotations

from django_tenants.utils import schema_context

from aura_project.tests.api.conftest import problem
from conversations.models import Conversation, Message, TurnMetrics
from conversations.services import conversation_end, conversation_record_turn, conversation_start
from tenants.models import Organization


def _conversation(org: Organization, end_user_id: str, lines: list[tuple[str, str]]) -> str:
    with schema_context(org.schema_name):
        conversation = conversation_start(end_user_id=end_user_id)
        conversation_record_turn(
            conversation_id=str(conversation.pk),
            messages=[{"role": role, "text": text} for role, text in lines],
            metrics={"voice_to_voice_ms": 800.0},
        )
        return str(conversation.pk)


def test_search_finds_conversations_by_what_was_said(org_alpha, alpha):
    booking = _conversation(
        org_alpha,
        "u1",
        [("user", "I booked a table for two"), ("assistant", "Your booking is confirmed.")],
    )
    weather = _conversation(org_alpha, "u2", [("user", "What is the weather like?")])
    found = alpha.get("/api/v1/conversations", {"q": "bookings", "end_user_id": "u1"}).json()
    assert [c["id"] for c in found["results"]] == [booking]  # "bookings" found "booked"
    assert found["results"][0]["message_count"] == 2
    phrase = {"q": '"table for two" -weather', "end_user_id": "u1"}
    assert alpha.get("/api/v1/conversations", phrase).json()["count"] == 1
    excluded = {"q": '"table for two" -booked', "end_user_id": "u1"}
    assert alpha.get("/api/v1/conversations", excluded).json()["count"] == 0
    either = alpha.get("/api/v1/conversations", {"q": "booking OR weather", "limit": 100})
    assert {booking, weather} <= {c["id"] for c in either.json()["results"]}
    assert alpha.get("/api/v1/conversations", {"q": "'); drop table --"}).json()["count"] == 0
    confirmed = {"q": "confirmed", "conversation": booking}
    messages = alpha.get("/api/v1/messages", confirmed).json()["results"]
    assert [(m["role"], m["text"]) for m in messages] == [
        ("assistant", "Your booking is confirmed.")
    ]


def test_conversations_are_filtered(org_alpha, alpha):
    first = _conversation(org_alpha, "caller-7", [("user", "hello")])
    second = _conversation(org_alpha, "caller-8", [("user", "hi")])
    with schema_context(org_alpha.schema_name):
        conversation_end(conversation_id=second)
    by_user = alpha.get("/api/v1/conversations", {"end_user_id": "caller-7"}).json()
    assert [c["id"] for c in by_user["results"]] == [first]
    ended = alpha.get("/api/v1/conversations", {"status": "ended", "end_user_id": "caller-8"})
    assert [c["id"] for c in ended.json()["results"]] == [second]
    active = alpha.get("/api/v1/conversations", {"status": "active", "end_user_id": "caller-8"})
    assert active.json()["count"] == 0
    future = alpha.get("/api/v1/conversations", {"started_after": "2999-01-01T00:00:00Z"})
    assert future.json()["count"] == 0
    problem(alpha.get("/api/v1/conversations", {"started_after": "yesterday"}), 400)
    problem(alpha.get("/api/v1/conversations", {"status": "sleeping"}), 400)


def test_a_transcript_reads_in_order_and_is_paginated(org_alpha, alpha):
    conversation = _conversation(
        org_alpha,
        "u",
        [("user", f"line {n}") if n % 2 == 0 else ("assistant", f"line {n}") for n in range(7)],
    )
    page = alpha.get(f"/api/v1/conversations/{conversation}/messages", {"limit": 3}).json()
    assert page["count"] == 7
    assert [m["text"] for m in page["results"]] == ["line 0", "line 1", "line 2"]
    users = alpha.get(f"/api/v1/conversations/{conversation}/messages", {"role": "user"}).json()
    assert [m["position"] for m in users["results"]] == [0, 2, 4, 6]
    detail = alpha.get(f"/api/v1/conversations/{conversation}").json()
    assert detail["end_user_id"] == "u"
    problem(alpha.get("/api/v1/conversations/00000000-0000-0000-0000-000000000000/messages"), 404)
    problem(alpha.get("/api/v1/conversations/00000000-0000-0000-0000-000000000000"), 404)


def test_deleting_a_conversation_deletes_its_messages_and_metrics(org_alpha, alpha):
    conversation = _conversation(org_alpha, "gone", [("user", "forget me")])
    assert alpha.delete(f"/api/v1/conversations/{conversation}").status_code == 204
    with schema_context(org_alpha.schema_name):
        assert not Conversation.objects.filter(pk=conversation).exists()
        assert not Message.objects.filter(conversation_id=conversation).exists()
        assert not TurnMetrics.objects.filter(conversation_id=conversation).exists()
    problem(alpha.get(f"/api/v1/conversations/{conversation}"), 404)
    problem(alpha.delete(f"/api/v1/conversations/{conversation}"), 404)
