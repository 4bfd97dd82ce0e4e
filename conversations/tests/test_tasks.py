from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from conversations.models import Conversation
from conversations.services import conversation_start
from conversations.tasks import end_stale_conversations


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
