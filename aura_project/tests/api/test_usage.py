"""monitoring/api.py: usage records, rollups, activity and the month against the budget."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from django_tenants.utils import schema_context

from aura_project.tests.api.conftest import Api, problem
from conversations.services import conversation_start
from monitoring.services import period_start_of, usage_record, usage_roll_up
from tenants.models import Organization


def _spend(organization: Organization, *, completion_tokens: int, model: str = "gpt-4o") -> str:
    """One turn's LLM usage, priced from the settings' table; returns the conversation id."""
    with schema_context(organization.schema_name):
        conversation = conversation_start(end_user_id="caller")
        usage_record(
            records=[
                {
                    "stage": "llm",
                    "provider": "openai",
                    "model": model,
                    "requests": 1,
                    "prompt_tokens": 1_000,
                    "completion_tokens": completion_tokens,
                },
                {"stage": "stt", "provider": "local", "model": "tiny.en", "stt_seconds": 2.5},
            ],
            conversation_id=str(conversation.pk),
            session_id="sess_1",
            response_id="resp_1",
        )
        return str(conversation.pk)


def test_records_list_what_each_turn_consumed_filtered_by_stage(org_alpha, alpha):
    conversation_id = _spend(org_alpha, completion_tokens=500)
    records = alpha.get("/api/v1/usage/records").json()
    assert records["count"] == 2
    llm = alpha.get("/api/v1/usage/records", {"stage": "llm"}).json()["results"]
    assert [(r["provider"], r["model"], r["completion_tokens"]) for r in llm] == [
        ("openai", "gpt-4o", 500)
    ]
    assert llm[0]["conversation"] == conversation_id
    assert Decimal(llm[0]["cost_usd"]) > 0
    stt_filter = {"conversation": conversation_id, "stage": "stt"}
    (stt,) = alpha.get("/api/v1/usage/records", stt_filter).json()["results"]
    assert (stt["stt_seconds"], Decimal(stt["cost_usd"])) == (2.5, Decimal(0))  # local is free
    problem(alpha.get("/api/v1/usage/records", {"stage": "nonsense"}), 400)


def test_rollups_and_activity_come_from_the_rows(org_alpha, alpha):
    _spend(org_alpha, completion_tokens=200)
    _spend(org_alpha, completion_tokens=300)
    with schema_context(org_alpha.schema_name):
        usage_roll_up(period="day", period_start=period_start_of("day", timezone.now()))
    rollups = alpha.get("/api/v1/usage/rollups", {"period": "day", "stage": "llm"}).json()
    (llm,) = rollups["results"]
    assert (llm["requests"], llm["completion_tokens"]) == (2, 500)
    (day,) = alpha.get("/api/v1/usage/activity", {"period": "day"}).json()["results"]
    assert day["conversations"] == 2
    assert Decimal(day["cost_usd"]) == Decimal(llm["cost_usd"])
    # Only the day was rolled up: the periods are kept apart.
    assert alpha.get("/api/v1/usage/rollups", {"period": "hour"}).json()["count"] == 0


def test_the_summary_shows_spending_with_or_without_a_budget(org_alpha, alpha):
    _spend(org_alpha, completion_tokens=100_000)
    unlimited = alpha.get("/api/v1/usage/summary").json()
    assert unlimited["status"] == "unlimited"
    assert unlimited["budget_usd"] is None
    spent = Decimal(unlimited["spent_usd"])
    assert spent > 0

    Organization.objects.filter(pk=org_alpha.pk).update(
        monthly_budget_usd=spent * 2, budget_warning_percent=40
    )
    warned = alpha.get("/api/v1/usage/summary").json()
    assert (warned["status"], round(warned["used_percent"])) == ("warning", 50)

    Organization.objects.filter(pk=org_alpha.pk).update(monthly_budget_usd=spent / 2)
    assert alpha.get("/api/v1/usage/summary").json()["status"] == "exceeded"


def test_usage_needs_the_usage_scope_and_stays_in_its_organization(
    org_alpha, org_beta, alpha, beta, make_key
):
    _spend(org_alpha, completion_tokens=100)
    assert beta.get("/api/v1/usage/records").json()["count"] == 0
    assert Decimal(beta.get("/api/v1/usage/summary").json()["spent_usd"]) == 0
    no_usage = Api(make_key(org_alpha, scopes=["agents"]))
    problem(no_usage.get("/api/v1/usage/records"), 403, "missing_scope")
    problem(no_usage.get("/api/v1/usage/summary"), 403, "missing_scope")
