"""The conversation's items and their chat-message view (voice/engine/pipeline/conversation.py)."""

from __future__ import annotations

import pytest

from voice.engine.errors import InvalidRequestError
from voice.engine.pipeline import conversation as items
from voice.engine.pipeline.conversation import Conversation


def test_an_answer_with_a_tool_call_reads_as_one_assistant_message_then_the_tool_result() -> None:
    conversation = Conversation()
    conversation.add(items.user_message("What time is it?"))
    answer = items.assistant_message(audio=True)
    answer.text = "Let me check."
    conversation.add(answer)
    conversation.add(items.function_call(call_id="call_1", name="get_current_time", arguments="{}"))
    conversation.add(items.function_call_output(call_id="call_1", output='{"time": "12:00"}'))

    messages = conversation.chat_messages()

    assert [m.role for m in messages] == ["user", "assistant", "tool"]
    assert messages[1].content == "Let me check."
    assert [call.name for call in messages[1].tool_calls] == ["get_current_time"]
    assert messages[2].tool_call_id == "call_1"


def test_an_output_for_an_unknown_call_is_refused_and_not_added() -> None:
    conversation = Conversation()
    with pytest.raises(InvalidRequestError):
        conversation.add(items.function_call_output(call_id="call_x", output="{}"))
    assert len(conversation) == 0


def test_empty_messages_are_left_out_and_a_resumed_answer_joins_its_first_half() -> None:
    conversation = Conversation()
    conversation.add(items.user_message("Tell me about rivers."))
    first_half, second_half = (
        items.assistant_message(audio=True),
        items.assistant_message(audio=True),
    )
    first_half.text, second_half.text = "The river is long.", "It runs through three countries."
    conversation.add(first_half)
    conversation.add(items.user_message(""))  # a noise burst transcribed as nothing
    conversation.add(second_half)

    messages = conversation.chat_messages()

    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].content == "The river is long. It runs through three countries."


def test_entries_since_a_mark_are_the_turns_new_items_even_after_old_ones_were_dropped() -> None:
    conversation = Conversation()
    for index in range(items.MAX_ITEMS):
        conversation.add(items.user_message(f"message {index}"))
    mark = conversation.mark()
    conversation.add(items.user_message("new question"))
    conversation.add(items.user_message("and another"))

    added = conversation.entries_since(mark)

    assert [entry.text for entry in added] == ["new question", "and another"]
    assert len(conversation) == items.MAX_ITEMS
