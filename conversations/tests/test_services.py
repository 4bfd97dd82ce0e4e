import uuid

from django_tenants.utils import schema_context

from conversations.models import TurnMetrics
from conversations.selectors import conversation_memory
from conversations.services import conversation_end, conversation_record_turn, conversation_start
from voice.models import Agent


def test_a_turn_is_recorded_with_its_messages_and_metrics_in_order(org_alpha):
    with schema_context(org_alpha.schema_name):
        conversation = conversation_start(end_user_id="u1", session_id="sess_1")
        conversation_record_turn(
            conversation_id=str(conversation.pk),
            messages=[
                {"role": "user", "text": "What time is it?", "item_id": "item_1"},
                {
                    "role": "assistant",
                    "text": "",
                    "tool_calls": [{"id": "call_1", "name": "get_current_time", "arguments": "{}"}],
                },
                {"role": "tool", "text": '{"time": "10:00"}', "tool_call_id": "call_1"},
                {"role": "assistant", "text": "It is ten", "truncated": True, "item_id": "item_2"},
            ],
            metrics={
                "voice_to_voice_ms": 812.5,
                "output_tokens": 9,
                "llm_route": "local/gemma3-270m",
            },
        )
        conversation_record_turn(
            conversation_id=str(conversation.pk), messages=[{"role": "user", "text": "Thanks"}]
        )

        messages = list(conversation.messages.all())
        assert [m.position for m in messages] == [0, 1, 2, 3, 4]
        assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant", "user"]
        assert messages[1].tool_calls[0]["name"] == "get_current_time"
        assert messages[2].tool_call_id == "call_1"
        assert messages[3].truncated
        metrics = TurnMetrics.objects.get(conversation=conversation)
        assert metrics.voice_to_voice_ms == 812.5
        assert metrics.route == "local/gemma3-270m"
        assert metrics.completion_tokens == 9


def _default_agent() -> Agent:
    return Agent.objects.get(is_default=True)


def test_a_returning_user_is_remembered_from_earlier_conversations(org_alpha, org_beta):
    with schema_context(org_alpha.schema_name):
        agent = _default_agent()
        earlier = conversation_start(end_user_id="returning", agent_id=agent.pk)
        earlier.summary = "The user's name is Ada and she likes tea."
        earlier.save()
        conversation_end(conversation_id=str(earlier.pk))
        current = conversation_start(end_user_id="returning", agent_id=agent.pk)
        memory = conversation_memory(conversation_id=str(current.pk))
    assert memory is not None
    assert "Ada" in memory
    # The same end-user id in another organization is another person.
    with schema_context(org_beta.schema_name):
        stranger = conversation_start(end_user_id="returning", agent_id=_default_agent().pk)
        assert conversation_memory(conversation_id=str(stranger.pk)) is None


def test_an_agent_without_memory_remembers_no_earlier_conversation(org_alpha):
    with schema_context(org_alpha.schema_name):
        forgetful = Agent.objects.create(
            name=f"forgetful-{uuid.uuid4().hex[:8]}", memory_enabled=False
        )
        earlier = conversation_start(end_user_id="ada-forgotten", agent_id=forgetful.pk)
        earlier.summary = "The user's name is Ada."
        earlier.save()
        current = conversation_start(end_user_id="ada-forgotten", agent_id=forgetful.pk)
        assert conversation_memory(conversation_id=str(current.pk)) is None
        # Its own summary of older turns is this conversation's context, not memory of others.
        current.summary = "Earlier in this call: the user asked about tea."
        current.save()
        assert conversation_memory(conversation_id=str(current.pk)) == current.summary


def test_messages_a_resumed_session_reports_again_are_stored_once(org_alpha):
    """After a crash, the resumed session re-reports what it restored; some of it may be new."""
    with schema_context(org_alpha.schema_name):
        conversation = conversation_start(end_user_id="u1", session_id="sess_1")
        conversation_record_turn(
            conversation_id=str(conversation.pk),
            messages=[{"role": "user", "text": "My name is Ada.", "item_id": "item_1"}],
        )
        conversation_record_turn(
            conversation_id=str(conversation.pk),
            messages=[
                {"role": "user", "text": "My name is Ada.", "item_id": "item_1"},
                # Answered just before the crash, never written: written now.
                {"role": "assistant", "text": "Hello Ada.", "item_id": "item_2"},
                {"role": "user", "text": "What is my name?", "item_id": "item_3"},
            ],
        )
        stored = list(conversation.messages.values_list("position", "item_id", "text"))
    assert stored == [
        (0, "item_1", "My name is Ada."),
        (1, "item_2", "Hello Ada."),
        (2, "item_3", "What is my name?"),
    ]
