import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from conversations.models import Conversation
from conversations.services import conversation_start, message_append
from conversations.tasks import end_stale_conversations, summarize_conversation
from core.encryption import encrypt
from tenants.models import Organization
from voice.engine.errors import AllRoutesFailedError
from voice.models import ProviderCredential
from voice.services import agent_create
from voice.tests.engine.simulator import SimulatorProcess, run_simulator


def test_the_task_runs_inside_the_schema_it_is_given(org_alpha, org_beta):
    long_ago = timezone.now() - timedelta(hours=7)
    for organization in (org_alpha, org_beta):
        with schema_context(organization.schema_name):
            stale = conversation_start(end_user_id="stale")
            Conversation.objects.filter(pk=stale.pk).update(started_at=long_ago)

    ended = end_stale_conversations.apply(args=(org_alpha.schema_name,)).get()

    assert ended >= 1
    with schema_context(org_alpha.schema_name):
        assert not Conversation.objects.filter(end_user_id="stale", status="active").exists()
    with schema_context(org_beta.schema_name):
        assert Conversation.objects.filter(end_user_id="stale", status="active").exists()


def test_a_recent_conversation_is_not_ended(org_alpha):
    with schema_context(org_alpha.schema_name):
        fresh = conversation_start(end_user_id="fresh")
    end_stale_conversations.apply(args=(org_alpha.schema_name,)).get()
    with schema_context(org_alpha.schema_name):
        fresh.refresh_from_db()
        assert fresh.status == "active"


def test_a_task_for_an_unknown_schema_fails_without_touching_any_tenant(db):
    result = end_stale_conversations.apply(args=("org_ghost",))
    assert result.failed()
    assert isinstance(result.result, LookupError)
    with pytest.raises(LookupError, match="org_ghost"):
        result.get()


# -- memory summaries and provider keys -----------------------------------------------------

OPERATOR_KEY = "sk-operator-" + "O" * 32
ORGANIZATION_KEY = "sk-proj-alpha-" + "A" * 32


@pytest.fixture(scope="module")
def organizations_host() -> Iterator[SimulatorProcess]:
    """A real server standing in for the model host an organization's route names."""
    with run_simulator(reply="The user likes tea.") as process:
        yield process


def _conversation_due_for_a_summary(
    organization: Organization, host: SimulatorProcess, name: str
) -> str:
    with schema_context(organization.schema_name):
        agent = agent_create(
            name=name,
            llm_routes=[{"provider": "openai", "model": "gpt-4o-mini", "base_url": host.base_url}],
        )
        conversation = conversation_start(end_user_id="alice", agent_id=agent.pk)
        for turn in range(settings.AURA_MEMORY_KEEP_MESSAGES + 2):
            role = "user" if turn % 2 == 0 else "assistant"
            message_append(conversation=conversation, role=role, text=f"I like tea ({turn}).")
        return str(conversation.pk)


def test_a_summary_never_sends_the_operators_key_to_an_organizations_host(
    org_alpha, organizations_host, monkeypatch, settings
):
    monkeypatch.setenv("OPENAI_API_KEY", OPERATOR_KEY)
    settings.AURA_PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    asyncio.run(organizations_host.reset())
    conversation_id = _conversation_due_for_a_summary(org_alpha, organizations_host, "No key")

    result = summarize_conversation.apply(args=(org_alpha.schema_name, conversation_id))

    assert result.failed()
    # (Celery hands the error back through its serializer: the base class, the message kept.)
    assert isinstance(result.result, AllRoutesFailedError)
    assert "no API key for this base_url" in str(result.result)
    assert asyncio.run(organizations_host.requests()) == []
    with schema_context(org_alpha.schema_name):
        assert Conversation.objects.get(pk=conversation_id).summary == ""


def test_a_summary_uses_the_organizations_own_key_at_its_host(
    org_alpha, organizations_host, monkeypatch, settings
):
    monkeypatch.setenv("OPENAI_API_KEY", OPERATOR_KEY)
    settings.AURA_PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    asyncio.run(organizations_host.reset())
    with schema_context(org_alpha.schema_name):
        ProviderCredential.objects.create(
            provider="openai", api_key_encrypted=encrypt(ORGANIZATION_KEY), key_hint="sk-…AAAA"
        )
    conversation_id = _conversation_due_for_a_summary(org_alpha, organizations_host, "Own key")

    assert summarize_conversation.apply(args=(org_alpha.schema_name, conversation_id)).get()

    [request] = asyncio.run(organizations_host.requests())
    assert request["authorization"] == f"Bearer {ORGANIZATION_KEY}"
    with schema_context(org_alpha.schema_name):
        assert Conversation.objects.get(pk=conversation_id).summary == "The user likes tea."
