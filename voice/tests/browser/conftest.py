"""Fixtures of the browser test: Debian's Chromium driven by Playwright, a live daphne."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

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
