"""Fixtures for end-to-end realtime tests: real daphne, real simulator, committed test data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from voice.services import AGENT_FIELDS
from voice.tests.engine.simulator import SimulatorProcess, run_simulator
from voice.tests.realtime.server import DaphneProcess, run_daphne


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorProcess]:
    with run_simulator(first_token_ms=30, inter_token_ms=5) as process:
        yield process


@pytest.fixture(scope="session")
def daphne_server(django_db_setup: None, tenant_schemas: None) -> Iterator[DaphneProcess]:
    from django.db import connection

    with run_daphne(database_name=connection.settings_dict["NAME"]) as server:
        yield server


async def issue_key(organization: Any, **options: Any) -> str:
    from tenants.services import api_key_create

    return (await sync_to_async(api_key_create)(organization=organization, **options)).plaintext


# What a test may set on the default agent (everything but which agent is the default); the
# rest is reset to its default.
CONFIGURABLE = tuple(name for name in AGENT_FIELDS if name != "is_default")


async def configure_agent(organization: Any, **settings: Any) -> None:
    """Give the organization's default agent these settings, the others their defaults
    (committed), so that no test depends on what an earlier one left configured."""
    from django_tenants.utils import schema_context

    from voice.models import Agent

    fresh = Agent()  # unsaved: its attributes are the fields' defaults
    defaults = {name: getattr(fresh, name) for name in CONFIGURABLE}

    def update() -> None:
        with schema_context(organization.schema_name):
            agent = Agent.objects.get(is_default=True)
            Agent.objects.filter(pk=agent.pk).update(**{**defaults, **settings})
            agent.webhook_tools.clear()

    await sync_to_async(update)()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    """The fault suite's figures (voice/tests/realtime/faults.py), when it ran."""
    from voice.tests.realtime.faults import FIGURES

    if FIGURES:
        terminalreporter.write_sep("-", "fault injection")
        for line in FIGURES:
            terminalreporter.write_line(line)
