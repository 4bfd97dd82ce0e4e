"""Where a failed turn failed: the stage its error came from (stt, llm, tts, tool, ...)."""

from __future__ import annotations

from voice.engine.errors import AuraError, ToolError
from voice.engine.routing import RoutesExhaustedError

# The values of `failed_stage` (and of the Prometheus label of the same name).
FAILED_STAGES = frozenset({"stt", "llm", "tts", "tool", "transport", "internal"})


def failure_stage(error: AuraError | None, *, default: str) -> str:
    """The stage `error` failed at; `default` where the error does not say (the stage the
    caller was running)."""
    if isinstance(error, RoutesExhaustedError) and error.stage in FAILED_STAGES:
        return error.stage
    if isinstance(error, ToolError):
        return "tool"
    stage = getattr(error, "stage", None)
    if isinstance(stage, str) and stage in FAILED_STAGES:
        return stage
    return default
