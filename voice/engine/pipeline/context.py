"""What the model is sent each round: persona, memory, and as much recent history as fits.

The history budget is in tokens, estimated rather than counted: each route tokenizes
differently (Gemma's SentencePiece, OpenAI's o200k) and the budget only needs to keep prompts
bounded, so a cheap estimate that errs on the large side serves every route alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from voice.engine.config import AgentConfig
from voice.engine.llm.base import ChatMessage, LLMRequest

# Every agent speaks: whatever its persona, it should answer the way a voice does.
SPOKEN_STYLE = (
    "Your replies are spoken aloud by a voice, so answer in one to three short sentences, "
    "in plain words: no lists, markdown, emoji or URLs."
)
MEMORY_HEADER = "What was said earlier in this conversation, summarised:"
# Roughly four characters per token in English; per message, a few tokens of framing.
CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4


def estimate_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 1


def message_tokens(message: ChatMessage) -> int:
    calls = sum(estimate_tokens(c.name + c.arguments) for c in message.tool_calls)
    return estimate_tokens(message.content) + calls + MESSAGE_OVERHEAD_TOKENS


def build_request(
    config: AgentConfig,
    messages: Sequence[ChatMessage],
    *,
    summary: str | None = None,
    instructions: str | None = None,
    max_output_tokens: int | None = None,
    tool_choice: str | None = None,
) -> LLMRequest:
    """The request for one LLM round over `messages` (the conversation, oldest first)."""
    system = system_message(instructions or config.instructions, summary)
    budget = config.context_token_budget - message_tokens(system)
    return LLMRequest(
        messages=(system, *recent_history(messages, budget)),
        tools=config.tools,
        tool_choice=tool_choice or config.tool_choice,
        max_output_tokens=max_output_tokens or config.max_output_tokens,
    )


def system_message(instructions: str, summary: str | None) -> ChatMessage:
    parts = [instructions.strip(), SPOKEN_STYLE]
    if summary and summary.strip():
        parts.append(f"{MEMORY_HEADER}\n{summary.strip()}")
    return ChatMessage(role="system", content="\n\n".join(part for part in parts if part))


def recent_history(messages: Sequence[ChatMessage], budget_tokens: int) -> list[ChatMessage]:
    """The newest messages that fit the budget, never splitting a tool call from its results.

    The last exchange is always kept, even over budget: answering without the question is
    worse than a long prompt. What is dropped is what the memory summary stands in for.
    """
    groups = _exchanges(messages)
    kept: list[list[ChatMessage]] = []
    used = 0
    for group in reversed(groups):
        cost = sum(message_tokens(m) for m in group)
        if kept and used + cost > budget_tokens:
            break
        kept.append(group)
        used += cost
    history = [message for group in reversed(kept) for message in group]
    # A model must not see a conversation that opens with the assistant's or a tool's turn.
    while history and history[0].role in ("assistant", "tool") and len(history) > 1:
        history.pop(0)
    return history


def _exchanges(messages: Sequence[ChatMessage]) -> list[list[ChatMessage]]:
    """Messages grouped so that tool results stay with the call that asked for them."""
    groups: list[list[ChatMessage]] = []
    for message in messages:
        if message.role == "tool" and groups:
            groups[-1].append(message)
        else:
            groups.append([message])
    return groups
