"""Fixtures of the engine tests that drive whole voice sessions (see voice_harness.py)."""

from voice.tests.engine.voice_harness import (  # noqa: F401 - pytest finds fixtures by name
    local_models,
    make_session,
    simulator,
    simulator_llm,
)
