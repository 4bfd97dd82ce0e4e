"""monitoring/admin.py: an organization's usage pages and its dashboard, on its own domain."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from conversations.models import Conversation, TurnMetrics
from conversations.tests.test_admin import staff_client
from monitoring.services import usage_record, usage_roll_up

pytestmark = pytest.mark.django_db


def record_a_turn(organization: Any, *, model: str) -> None:
    """One answered turn of 700 ms with its usage, rolled up into today."""
    with schema_context(organization.schema_name):
        conversation = Conversation.objects.create(end_user_id=f"{organization.slug}-user")
        TurnMetrics.objects.create(
            conversation=conversation, voice_to_voice_ms=700.0, status="completed"
        )
        usage_record(
            conversation_id=str(conversation.pk),
            records=[
                {"stage": "llm", "provider": "openai", "model": model, "prompt_tokens": 4000},
                {"stage": "audio_in", "provider": "aura", "model": "", "audio_seconds": 90.0},
            ],
        )
        usage_roll_up(period="day", period_start=timezone.now())


def test_the_dashboard_charts_the_organizations_own_rollups(org_alpha: Any, org_beta: Any) -> None:
    record_a_turn(org_alpha, model="gpt-4o")
    alpha = staff_client(org_alpha, "alice")
    beta = staff_client(org_beta, "bob")

    page = alpha.get("/admin/monitoring/activityrollup/")
    empty = beta.get("/admin/monitoring/activityrollup/?days=7")

    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('viewBox="0 0 640 200"') == 6  # incl. success/satisfaction, DNSMOS
    for title in ("Conversation minutes per day", "Cost per day (USD)", "Voice to voice latency"):
        assert title in html
    # Today's bar carries its exact value: 1.5 minutes, $0.01 (4,000 tokens at $0.0025/1k).
    assert "1.5 min</title>" in html
    assert "$0.01</title>" in html
    assert "p50" in html
    assert "700 ms" in html
    assert empty.status_code == 200
    assert "1.5 min</title>" not in empty.content.decode()


def test_the_usage_pages_list_the_organizations_own_rows(org_alpha: Any, org_beta: Any) -> None:
    record_a_turn(org_alpha, model="alpha-model")
    record_a_turn(org_beta, model="beta-model")
    alpha = staff_client(org_alpha, "alice")

    index = alpha.get("/admin/").content.decode()
    records = alpha.get("/admin/monitoring/usagerecord/").content.decode()
    rollups = alpha.get("/admin/monitoring/usagerollup/").content.decode()

    for page in ("usagerecord", "usagerollup", "activityrollup"):
        assert f"/admin/monitoring/{page}/" in index
    assert "alpha-model" in records
    assert "beta-model" not in records
    assert "alpha-model" in rollups
    assert "beta-model" not in rollups


@pytest.mark.parametrize(
    "page",
    ["usagerecord/?stage__exact=llm", "usagerollup/?period__exact=day", "activityrollup/?days=7"],
)
def test_the_former_addresses_of_the_usage_pages_lead_to_them(org_alpha: Any, page: str) -> None:
    alpha = staff_client(org_alpha, "alice")

    moved = alpha.get(f"/admin/conversations/{page}")

    assert moved.status_code == 301
    assert moved["Location"] == f"/admin/monitoring/{page}"
    assert alpha.get(moved["Location"]).status_code == 200
    # The conversations' own pages did not move.
    assert alpha.get("/admin/conversations/conversation/").status_code == 200
