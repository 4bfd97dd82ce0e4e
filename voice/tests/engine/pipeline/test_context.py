"""What the model is sent each round (voice/engine/pipeline/context.py)."""

from __future__ import annotations

from voice.engine.config import AgentConfig
from voice.engine.llm.base import ChatMessage, ToolCall
from voice.engine.pipeline.context import MEMORY_HEADER, build_request, message_tokens
from voice.engine.pipeline.tools import builtin_specs


def user(text: str) -> ChatMessage:
    return ChatMessage(role="user", content=text)


def assistant(text: str) -> ChatMessage:
    return ChatMessage(role="assistant", content=text)


def test_the_persona_and_the_memory_summary_open_the_request() -> None:
    config = AgentConfig(instructions="You are Ada, a bakery's assistant.")
    request = build_request(config, [user("Hi")], summary="The user is called Sam.")
    system = request.messages[0]
    assert system.role == "system"
    assert system.content.startswith("You are Ada")
    assert f"{MEMORY_HEADER}\nThe user is called Sam." in system.content
    assert request.messages[1:] == (user("Hi"),)


def test_per_response_overrides_win_over_the_agent() -> None:
    config = AgentConfig(instructions="Agent", max_output_tokens=300, tool_choice="auto")
    request = build_request(
        config, [user("Hi")], instructions="Override", max_output_tokens=20, tool_choice="none"
    )
    assert request.messages[0].content.startswith("Override")
    assert (request.max_output_tokens, request.tool_choice) == (20, "none")


def test_the_agents_tools_are_offered() -> None:
    config = AgentConfig(tools=builtin_specs(["get_current_time"]))
    assert [t.name for t in build_request(config, [user("Time?")]).tools] == ["get_current_time"]


def test_old_history_beyond_the_budget_is_dropped_newest_kept() -> None:
    history = []
    for index in range(40):
        history += [user(f"question {index} " + "x" * 80), assistant(f"answer {index}")]
    history.append(user("the last question"))
    config = AgentConfig(context_token_budget=400)
    request = build_request(config, history)
    kept = request.messages[1:]
    assert kept[-1] == user("the last question")
    assert len(kept) < len(history)
    assert sum(message_tokens(m) for m in request.messages) <= 400
    assert kept[0].role == "user"  # never opens on the assistant's half of an exchange


def test_the_last_exchange_is_kept_even_over_budget() -> None:
    request = build_request(AgentConfig(context_token_budget=10), [user("y" * 4000)])
    assert request.messages[-1].content == "y" * 4000


def test_a_tool_call_is_never_separated_from_its_result() -> None:
    call = ToolCall(id="call_1", name="get_current_time", arguments="{}")
    history = [
        user("filler " * 200),
        user("What time is it?"),
        ChatMessage(role="assistant", tool_calls=(call,)),
        ChatMessage(role="tool", content='{"spoken": "ten"}', tool_call_id="call_1"),
        assistant("It is ten."),
    ]
    kept = build_request(AgentConfig(context_token_budget=150), history).messages[1:]
    roles = [m.role for m in kept]
    assert roles == ["user", "assistant", "tool", "assistant"]
