"""The tenant admin on each organization's own domain: transcripts, keys, and never another
organization's data (the dashboard: monitoring/tests/test_admin.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import schema_context

from conversations.models import Conversation, Message, TurnMetrics
from tenants.services import api_key_create

pytestmark = pytest.mark.django_db


def staff_client(organization: Any, username: str) -> Client:
    """A logged-in superuser of `organization` (users live in its schema)."""
    client = Client(HTTP_HOST=f"{organization.slug}.localhost")
    with schema_context(organization.schema_name):
        user = get_user_model().objects.create_superuser(username, f"{username}@example.com", "pw")
        client.force_login(user)
    return client


def conversation_with(organization: Any, *lines: tuple[str, str]) -> Conversation:
    with schema_context(organization.schema_name):
        conversation = Conversation.objects.create(end_user_id=f"{organization.slug}-user")
        for position, (role, text) in enumerate(lines):
            Message.objects.create(
                conversation=conversation, position=position, role=role, text=text
            )
        TurnMetrics.objects.create(
            conversation=conversation, voice_to_voice_ms=700.0, status="completed"
        )
        return conversation


@pytest.fixture
def two_tenants(org_alpha: Any, org_beta: Any) -> dict[str, Any]:
    return {
        "alpha": conversation_with(
            org_alpha, ("user", "Alpha asks about the harbour."), ("assistant", "Alpha answer.")
        ),
        "beta": conversation_with(
            org_beta, ("user", "Beta asks about the mountain."), ("assistant", "Beta answer.")
        ),
        "alpha_key": api_key_create(organization=org_alpha, name="alpha-key"),
        "beta_key": api_key_create(organization=org_beta, name="beta-key"),
    }


def test_a_transcript_reads_as_a_conversation(org_alpha: Any, two_tenants: dict[str, Any]) -> None:
    client = staff_client(org_alpha, "alice")
    conversation = two_tenants["alpha"]

    page = client.get(f"/admin/conversations/conversation/{conversation.pk}/change/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "<strong>User</strong> Alpha asks about the harbour." in html
    assert "<strong>Assistant</strong> Alpha answer." in html


def test_staff_of_one_organization_never_see_anothers_data(
    org_alpha: Any, org_beta: Any, two_tenants: dict[str, Any]
) -> None:
    alpha = staff_client(org_alpha, "alice")
    beta_conversation, beta_key = two_tenants["beta"], two_tenants["beta_key"].api_key

    listing = alpha.get("/admin/conversations/conversation/").content.decode()
    assert str(two_tenants["alpha"].pk) in listing
    assert str(beta_conversation.pk) not in listing
    # Beta's conversation is not in alpha's schema at all: its page does not exist here.
    missing = alpha.get(f"/admin/conversations/conversation/{beta_conversation.pk}/change/")
    assert missing.status_code == 302
    assert b"Beta asks" not in alpha.get(missing["Location"]).content

    keys = alpha.get("/admin/tenants/apikey/").content.decode()
    assert two_tenants["alpha_key"].api_key.prefix in keys
    assert beta_key.prefix not in keys
    assert two_tenants["alpha_key"].api_key.secret_hash not in keys
    assert alpha.get(f"/admin/tenants/apikey/{beta_key.pk}/change/").status_code == 302
    events = alpha.get("/admin/tenants/apikeyevent/").content.decode()
    assert two_tenants["alpha_key"].api_key.prefix in events
    assert beta_key.prefix not in events
    # Searching does not reach across either.
    assert "Beta" not in alpha.get("/admin/conversations/conversation/?q=mountain").content.decode()

    # Alpha's session means nothing on beta's domain (beta's users are in beta's schema).
    alpha.defaults["HTTP_HOST"] = "beta.localhost"
    refused = alpha.get("/admin/conversations/conversation/")
    assert refused.status_code == 302
    assert "/admin/login/" in refused["Location"]


def test_platform_models_are_not_offered_to_an_organization(
    org_alpha: Any, two_tenants: dict[str, Any]
) -> None:
    alpha = staff_client(org_alpha, "alice")

    index = alpha.get("/admin/").content.decode()

    assert "/admin/tenants/organization/" not in index
    assert alpha.get("/admin/tenants/organization/").status_code == 404
    assert "/admin/conversations/conversation/" in index
    assert "/admin/monitoring/activityrollup/" in index
