"""Fixtures of the browser test: Debian's Chromium driven by Playwright, a live daphne."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from voice.models import (
    default_llm_routes,
    default_stt_routes,
    default_tts_routes,
    default_turn_detection,
)
from voice.tests.realtime.conftest import configure_agent
from voice.tests.realtime.conftest import simulator as simulator  # the echo test's answers
from voice.tests.realtime.server import DaphneProcess, run_daphne

CHROMIUM = Path(os.environ.get("AURA_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    """Debian's Chromium; missing, the test fails (the set-up installs it), it does not skip."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}. `make test` installs Debian's chromium "
            "(scripts/ensure_chromium.sh: apt-get install -y chromium); or set AURA_CHROMIUM "
            "to a Chromium binary.",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def widget_server(django_db_setup: None, tenant_schemas: None) -> Iterator[DaphneProcess]:
    """A daphne process on the test database, answering with the embedded local models."""
    from django.db import connection

    with run_daphne(database_name=connection.settings_dict["NAME"]) as server:
        yield server


@pytest.fixture
async def demo_page_url(widget_server: DaphneProcess, org_alpha: Any) -> str:
    # Other tests point this organization's agent elsewhere: back to the embedded models.
    await configure_agent(
        org_alpha,
        instructions="You are a helpful, concise voice assistant.",
        stt_routes=default_stt_routes(),
        llm_routes=default_llm_routes(),
        tts_routes=default_tts_routes(),
        turn_detection=default_turn_detection(),
        builtin_tools=[],
    )
    return f"http://alpha.localhost:{widget_server.port}/"
