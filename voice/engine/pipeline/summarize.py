"""Folding older turns of a conversation into a short summary, with any language model."""

from __future__ import annotations

from collections.abc import Sequence

from voice.engine.llm.base import ChatMessage, LLMRequest, TextDelta
from voice.engine.pipeline.response_services import StreamingModel

SUMMARY_INSTRUCTIONS = (
    "You keep notes for a voice assistant. Update the notes with the new conversation lines: "
    "facts about the user (name, preferences, requests), decisions and open questions. "
    "Write at most five short sentences, no preamble."
)
MAX_SUMMARY_CHARS = 1200


def transcript_text(messages: Sequence[ChatMessage]) -> str:
    lines = []
    for message in messages:
        if message.role in ("user", "assistant") and message.content.strip():
            speaker = "User" if message.role == "user" else "Assistant"
            lines.append(f"{speaker}: {message.content.strip()}")
    return "\n".join(lines)


async def summarize(llm: StreamingModel, *, previous: str, messages: Sequence[ChatMessage]) -> str:
    """The previous notes updated with `messages`; the previous notes if there is nothing new."""
    transcript = transcript_text(messages)
    if not transcript:
        return previous
    prompt = (
        f"Notes so far: {previous or '(none)'}\n\n"
        f"New conversation lines:\n{transcript}\n\nUpdated notes:"
    )
    request = LLMRequest(
        messages=(
            ChatMessage(role="system", content=SUMMARY_INSTRUCTIONS),
            ChatMessage(role="user", content=prompt),
        ),
        max_output_tokens=200,
        temperature=0.2,
    )
    parts = [chunk.text async for chunk in llm.stream(request) if isinstance(chunk, TextDelta)]
    summary = "".join(parts).strip()
    return (summary or previous)[:MAX_SUMMARY_CHARS]
