"""conversations/api.py's feedback: a server-side integration rates a conversation or one of
its answers and lists ratings with filters; a publishable key cannot rate anything here."""

from __future__ import annotations

from django_tenants.utils import schema_context

from aura_project.tests.api.conftest import Api, problem
from conversations.models import Feedback
from conversations.services import conversation_record_turn, conversation_start
from tenants.models import Organization


def _answered(org: Organization, answer_item: str) -> str:
    with schema_context(org.schema_name):
        conversation = conversation_start(end_user_id="caller")
        conversation_record_turn(
            conversation_id=str(conversation.pk),
            messages=[
                {"role": "user", "text": "Where is my order?", "item_id": "item_q"},
                {"role": "assistant", "text": "It ships today.", "item_id": answer_item},
            ],
        )
        return str(conversation.pk)


def test_an_integration_rates_a_conversation_and_an_answer(org_alpha, alpha):
    conversation = _answered(org_alpha, "item_a1")
    path = f"/api/v1/conversations/{conversation}/feedback"
    whole = alpha.post(path, {"rating": "down", "comment": "  Took too long. "})
    assert whole.status_code == 201, whole.content
    assert (whole.json()["rating"], whole.json()["comment"]) == ("down", "Took too long.")
    answer = alpha.post(path, {"rating": "up", "item_id": "item_a1"})
    assert answer.status_code == 201
    with schema_context(org_alpha.schema_name):
        stored = Feedback.objects.get(conversation_id=conversation, item_id="item_a1")
        assert stored.message is not None
        assert stored.message.text == "It ships today."
        assert stored.source == "api"
    # Rating again replaces the rating.
    alpha.post(path, {"rating": "up"})
    listed = alpha.get(path).json()["results"]
    assert sorted((f["item_id"], f["rating"]) for f in listed) == [("", "up"), ("item_a1", "up")]


def test_ratings_are_listed_with_filters(org_alpha, alpha):
    first = _answered(org_alpha, "item_b1")
    second = _answered(org_alpha, "item_b2")
    alpha.post(f"/api/v1/conversations/{first}/feedback", {"rating": "down", "comment": "Rude"})
    alpha.post(f"/api/v1/conversations/{second}/feedback", {"rating": "up", "item_id": "item_b2"})
    down = alpha.get("/api/v1/feedback", {"rating": "down"}).json()["results"]
    assert [f["conversation"] for f in down] == [first]
    answers = alpha.get("/api/v1/feedback", {"target": "answer"}).json()["results"]
    assert [f["item_id"] for f in answers] == ["item_b2"]
    commented = alpha.get("/api/v1/feedback", {"has_comment": "true"}).json()["results"]
    assert [f["comment"] for f in commented] == ["Rude"]
    mine = alpha.get("/api/v1/feedback", {"conversation": second}).json()["results"]
    assert len(mine) == 1


def test_bad_ratings_and_unknown_targets_are_refused(org_alpha, alpha):
    conversation = _answered(org_alpha, "item_c1")
    path = f"/api/v1/conversations/{conversation}/feedback"
    problem(alpha.post(path, {"rating": "meh"}), 400)
    problem(alpha.post(path, {"rating": "up", "comment": "x" * 2001}), 400)
    # Only an answer of this conversation: the user's own message is no answer.
    problem(alpha.post(path, {"rating": "up", "item_id": "item_q"}), 404, "unknown_item")
    problem(alpha.post(path, {"rating": "up", "item_id": "item_elsewhere"}), 404, "unknown_item")
    with schema_context(org_alpha.schema_name):
        assert not Feedback.objects.exists()


def test_another_organization_cannot_rate_or_read_ratings(org_alpha, alpha, beta):
    conversation = _answered(org_alpha, "item_d1")
    path = f"/api/v1/conversations/{conversation}/feedback"
    alpha.post(path, {"rating": "up"})
    problem(beta.post(path, {"rating": "down"}), 404)
    problem(beta.get(path), 404)
    assert beta.get("/api/v1/feedback").json()["count"] == 0
    with schema_context(org_alpha.schema_name):
        assert list(Feedback.objects.values_list("rating", flat=True)) == ["up"]


def test_a_publishable_key_cannot_rate_over_rest(org_alpha, make_key):
    """A visitor holds the page's pk_ key: over REST it rates nothing, not even their own
    conversation (they rate it over their socket, `aura.feedback`)."""
    conversation = _answered(org_alpha, "item_e1")
    visitor = Api(
        make_key(org_alpha, ["realtime"], kind="pk", allowed_origins=["https://shop.example"])
    )
    response = visitor.post(f"/api/v1/conversations/{conversation}/feedback", {"rating": "down"})
    assert response.status_code == 401
    with schema_context(org_alpha.schema_name):
        assert not Feedback.objects.exists()
