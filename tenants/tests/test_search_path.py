"""django-tenants sends `SET search_path` once per connection and schema (TENANT_LIMIT_SET_CALLS),
and again whenever the path may have changed: a query must never run in the organization the
connection served before."""

from __future__ import annotations

import uuid
from typing import Any, cast

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from conversations.models import AppliedTurnRecord, Conversation
from conversations.services import conversation_start
from voice.engine.llm.base import ChatMessage
from voice.realtime.journal import TurnRecord
from voice.realtime.persistence import message_json, record_turn, record_usage
from voice.tests.engine.fakes import llm_usage, turn_report

pytestmark = pytest.mark.django_db(transaction=True)


def _conversation_in(organization: Any) -> str:
    """A conversation of `organization` with a session id no other holds."""
    marker = f"sess_{uuid.uuid4().hex}"
    with schema_context(organization.schema_name):
        conversation_start(end_user_id="", session_id=marker)
    return marker


def _sees(organization: Any, marker: str) -> bool:
    with schema_context(organization.schema_name):
        return Conversation.objects.filter(session_id=marker).exists()


@transaction.atomic
def _claim_twice(key: str) -> None:
    AppliedTurnRecord.objects.create(key=key)
    AppliedTurnRecord.objects.create(key=key)


@transaction.atomic
def _switch_and_claim_twice(schema_name: str, key: str) -> None:
    """In a savepoint: switch to `schema_name` (its SET is sent inside), then fail."""
    cast(Any, connection).set_schema(schema_name)  # django-tenants' wrapper
    _claim_twice(key)


def test_a_recorded_turn_sets_the_search_path_once(org_alpha):
    with schema_context(org_alpha.schema_name):
        conversation_id = str(conversation_start(end_user_id="", session_id="sess_path").pk)
    report = turn_report(
        "resp_path", output_tokens=3, usage=(llm_usage(prompt_tokens=10, completion_tokens=3),)
    )
    said = [
        ChatMessage(role="user", content="Hi."),
        ChatMessage(role="assistant", content="Hello."),
    ]
    record = TurnRecord.of_turn(
        report,
        schema_name=org_alpha.schema_name,
        conversation_id=conversation_id,
        session_id="sess_path",
        messages=[message_json(message) for message in said],
    )

    with schema_context(org_alpha.schema_name), CaptureQueriesContext(connection) as queries:
        assert record_usage(record)
        assert record_turn(record)

    sets = [query["sql"] for query in queries if query["sql"].startswith("SET search_path")]
    assert sets == [f'SET search_path = "{org_alpha.schema_name}","public"']


def test_each_organization_reads_its_own_rows_on_one_connection_in_turn(org_alpha, org_beta):
    alpha, beta = _conversation_in(org_alpha), _conversation_in(org_beta)

    for _ in range(3):
        assert (_sees(org_alpha, alpha), _sees(org_alpha, beta)) == (True, False)
        assert (_sees(org_beta, beta), _sees(org_beta, alpha)) == (True, False)


def test_a_rolled_back_transaction_does_not_leave_the_previous_path(org_alpha, org_beta):
    alpha, beta = _conversation_in(org_alpha), _conversation_in(org_beta)
    key = uuid.uuid4().hex
    assert _sees(org_alpha, alpha)  # the connection's session path is alpha's now

    with schema_context(org_beta.schema_name):
        with pytest.raises(IntegrityError):
            _claim_twice(key)  # the SET to beta's path goes inside the transaction
        # PostgreSQL reverted the SET with the transaction: it must be sent again.
        assert Conversation.objects.filter(session_id=beta).exists()
        assert not Conversation.objects.filter(session_id=alpha).exists()


def test_a_savepoint_rolled_back_does_not_leave_the_previous_path(org_alpha, org_beta):
    alpha, beta = _conversation_in(org_alpha), _conversation_in(org_beta)
    key = uuid.uuid4().hex

    with schema_context(org_alpha.schema_name), transaction.atomic():
        assert Conversation.objects.filter(session_id=alpha).exists()  # alpha's path is set
        with pytest.raises(IntegrityError):
            _switch_and_claim_twice(org_beta.schema_name, key)
        # Beta's SET was rolled back with the savepoint; beta is still the schema in use.
        assert Conversation.objects.filter(session_id=beta).exists()
        assert not Conversation.objects.filter(session_id=alpha).exists()
