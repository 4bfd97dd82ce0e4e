"""Conversation summaries written by an agent's own LLM routes (registered as the
conversations app's summarizer in VoiceConfig.ready)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from voice.engine.assembly import build_llm
from voice.engine.llm.base import ChatMessage
from voice.engine.pipeline.summarize import summarize
from voice.models import Agent
from voice.selectors import agent_config, agent_for_session


def agent_summarize(
    *, agent: Agent | None, previous: str, messages: Sequence[tuple[str, str]]
) -> str:
    """Fold `messages` into `previous` with the agent's model (None: the default agent's)."""
    llm = build_llm(agent_config(agent or agent_for_session(None)).llm_routes)
    chat = [
        ChatMessage(role="user" if role == "user" else "assistant", content=text)
        for role, text in messages
    ]
    return asyncio.run(summarize(llm, previous=previous, messages=chat))
