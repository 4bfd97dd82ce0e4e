"""Monthly budgets over a real socket: the hard stop refuses new sessions and ends open ones.

A daphne process of its own prices the simulator's model dearly, so that one short text turn
costs cents; the agent's LLM is the OpenAI-protocol simulator (which reports usage).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import schema_context
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from monitoring.budget import BudgetStatus
from voice.tests.engine.simulator import SimulatorProcess, run_simulator
from voice.tests.realtime.conftest import configure_agent, issue_key
from voice.tests.realtime.server import DaphneProcess, run_daphne

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

MODEL = "budget-test"
# $10 per 1,000 tokens: a turn of a few dozen tokens costs several tenths of a dollar.
PRICES = {
    "llm": {
        f"openai_compatible/{MODEL}": {
            "prompt_per_1k_tokens": "10",
            "completion_per_1k_tokens": "10",
        }
    }
}


@pytest.fixture(scope="module")
def priced_server(django_db_setup: None, tenant_schemas: None) -> Iterator[DaphneProcess]:
    from django.db import connection

    env = {"AURA_PRICES_JSON": json.dumps(PRICES), "AURA_WARM_UP_LOCAL_MODELS": "false"}
    with run_daphne(database_name=connection.settings_dict["NAME"], extra_env=env) as server:
        yield server


@pytest.fixture(autouse=True)
async def _close_thread_connections() -> Any:
    """The helpers' worker thread keeps a connection; close it so the test database can go."""
    yield
    from django.db import connections

    await sync_to_async(connections.close_all)()


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorProcess]:
    with run_simulator(first_token_ms=20, inter_token_ms=5) as process:
        yield process


@sync_to_async
def spent_this_month(organization: Any) -> Decimal:
    from django_tenants.utils import schema_context

    from monitoring.selectors import usage_month_to_date_cost

    with schema_context(organization.schema_name):
        return usage_month_to_date_cost()


@sync_to_async
def set_budget(organization: Any, budget_usd: Decimal | None) -> None:
    from tenants.services import organization_set_budget

    organization_set_budget(organization=organization, monthly_budget_usd=budget_usd)


@sync_to_async
def record_spend(organization: Any, cost_usd: str) -> list[int]:
    from django_tenants.utils import schema_context

    from monitoring.models import UsageRecord

    with schema_context(organization.schema_name):
        record = UsageRecord.objects.create(
            stage="llm", provider="openai", model="gpt-4o", cost_usd=Decimal(cost_usd)
        )
        return [record.pk]


@sync_to_async
def forget_spend(organization: Any, pks: list[int]) -> None:
    from django_tenants.utils import schema_context

    from monitoring.models import UsageRecord

    with schema_context(organization.schema_name):
        UsageRecord.objects.filter(pk__in=pks).delete()


async def next_event(socket: ClientConnection, *, timeout_s: float = 15.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        return dict(json.loads(await socket.recv()))


async def closing_error(
    socket: ClientConnection, *, timeout_s: float
) -> tuple[dict[str, Any], int]:
    """The error event that ends the session, and the close code that follows."""
    async with asyncio.timeout(timeout_s):
        while (event := await next_event(socket, timeout_s=timeout_s))["type"] != "error":
            pass
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None
    return event["error"], closed.value.rcvd.code


def realtime_url(server: DaphneProcess, *, extensions: bool = False) -> str:
    return f"{server.websocket_base_url}/realtime" + ("?aura=1" if extensions else "")


async def test_a_new_session_is_refused_once_the_budget_is_spent(
    priced_server: DaphneProcess, org_alpha: Any
) -> None:
    await configure_agent(org_alpha, turn_detection=None)
    key = await issue_key(org_alpha)
    spent = await spent_this_month(org_alpha)
    await set_budget(org_alpha, spent + Decimal("1.00"))
    records = await record_spend(org_alpha, "1.50")
    try:
        async with connect(
            realtime_url(priced_server), additional_headers={"Authorization": f"Bearer {key}"}
        ) as refused:
            error, close_code = await closing_error(refused, timeout_s=10)
        assert close_code == 4402
        assert error["code"] == "budget_exceeded"
        assert error["type"] == "insufficient_quota"
        assert "monthly budget" in error["message"]
        # Refused at the door: no conversation, but counted for the success rate.
        assert await sync_to_async(refusals_of)(org_alpha) == [("budget", 1)]

        # Raising the budget lets sessions in again, at once.
        await set_budget(org_alpha, spent + Decimal("100"))
        async with connect(
            realtime_url(priced_server), additional_headers={"Authorization": f"Bearer {key}"}
        ) as admitted:
            assert (await next_event(admitted))["type"] == "session.created"
    finally:
        await forget_spend(org_alpha, records)


async def test_an_open_session_ends_after_the_turn_that_spends_the_budget(
    priced_server: DaphneProcess, org_alpha: Any, simulator: SimulatorProcess
) -> None:
    await configure_agent(
        org_alpha,
        turn_detection=None,
        llm_routes=[
            {"provider": "openai_compatible", "model": MODEL, "base_url": simulator.base_url}
        ],
    )
    await simulator.configure(reply="The museum opens at nine tomorrow morning.")
    key = await issue_key(org_alpha)
    spent = await spent_this_month(org_alpha)
    budget = spent + Decimal("0.05")
    await set_budget(org_alpha, budget)
    # 90 % spent: past the warning threshold (80 %), not yet at the hard stop.
    records = await record_spend(org_alpha, "0.045")
    try:
        async with connect(
            realtime_url(priced_server, extensions=True),
            additional_headers={"Authorization": f"Bearer {key}"},
        ) as socket:
            assert (await next_event(socket))["type"] == "session.created"
            assert (await next_event(socket))["type"] == "aura.session.created"
            warning = await next_event(socket)
            assert warning["type"] == "aura.budget.warning"
            assert Decimal(warning["budget_usd"]) == budget
            assert warning["used_percent"] == pytest.approx(90.0, abs=0.1)

            await socket.send(
                json.dumps(
                    {
                        "type": "conversation.item.create",
                        "item": {
                            "type": "message",
                            "role": "user",
                            "content": [{"type": "input_text", "text": "When do you open?"}],
                        },
                    }
                )
            )
            await socket.send(
                json.dumps({"type": "response.create", "response": {"output_modalities": ["text"]}})
            )
            seen: list[str] = []
            async with asyncio.timeout(20):
                while (event := await next_event(socket))["type"] != "response.done":
                    seen.append(event["type"])
            # The turn was answered in full before the session ended.
            assert event["response"]["status"] == "completed"
            assert "response.output_text.done" in seen
            error, close_code = await closing_error(socket, timeout_s=15)
        assert close_code == 4402
        assert error["code"] == "budget_exceeded"

        # The turn's cost was recorded, priced from the table the server was given.
        assert await spent_this_month(org_alpha) > budget
        async with connect(
            realtime_url(priced_server), additional_headers={"Authorization": f"Bearer {key}"}
        ) as refused:
            assert (await closing_error(refused, timeout_s=10))[1] == 4402
    finally:
        await forget_spend(org_alpha, records)
        await set_budget(org_alpha, None)


def test_the_warning_and_the_stop_are_fractions_of_the_budget() -> None:
    assert not BudgetStatus(None, Decimal("1000"), 80).warning
    assert not BudgetStatus(None, Decimal("1000"), 80).exceeded
    assert not BudgetStatus(Decimal("10"), Decimal("7.99"), 80).warning
    assert BudgetStatus(Decimal("10"), Decimal("8"), 80).warning
    assert BudgetStatus(Decimal("10"), Decimal("10"), 80).exceeded
    assert not BudgetStatus(Decimal("10"), Decimal("10"), 80).warning
    # A zero budget stops everything.
    assert BudgetStatus(Decimal("0"), Decimal("0"), 80).exceeded


def refusals_of(organization: Any) -> list[tuple[str, int]]:
    from conversations.models import SessionRefusal

    with schema_context(organization.schema_name):
        return list(SessionRefusal.objects.values_list("reason", "count"))
