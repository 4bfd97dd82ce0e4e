"""Which response a log line belongs to, for whoever formats the engine's logs.

A context variable set inside each response's task (and so inherited by the tasks it starts:
the LLM stream, TTS, tool calls), so that a log filter outside the engine can add the turn's id
to every line without any call site passing it along.
"""

from __future__ import annotations

from contextvars import ContextVar

current_turn: ContextVar[str | None] = ContextVar("aura_current_turn", default=None)
