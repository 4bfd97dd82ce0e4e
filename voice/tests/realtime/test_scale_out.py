"""Scale-out: three daphne processes behind nginx share PostgreSQL and Redis, as deployed.

Sessions spread over the three; a process killed mid-conversation loses nothing a client
cannot get back (it resumes on another process); a control message reaches the process that
holds a session, whichever process sent it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voice.realtime.control import realtime_session_end_async
from voice.realtime.wire import CLOSE_ENDED_BY_OPERATOR
from voice.tests.realtime.conftest import configure_agent, issue_key
from voice.tests.realtime.proxy import NginxProcess, run_nginx
from voice.tests.realtime.server import DaphneProcess, run_daphne
from voice.tests.realtime.socket_client import send_user_text
from voice.tests.realtime.test_socket_boundaries import next_event, url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

PROCESSES = 3


@pytest.fixture(scope="module")
def daphne_trio(django_db_setup: None, tenant_schemas: None) -> Iterator[list[DaphneProcess]]:
    from django.db import connection

    name = connection.settings_dict["NAME"]
    with contextlib.ExitStack() as stack:
        # Remote providers only (the simulator): no process needs the local models.
        yield [
            stack.enter_context(
                run_daphne(database_name=name, extra_env={"AURA_WARM_UP_LOCAL_MODELS": "false"})
            )
            for _ in range(PROCESSES)
        ]


@pytest.fixture(scope="module")
def proxy(
    daphne_trio: list[DaphneProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NginxProcess]:
    prefix: Path = tmp_path_factory.mktemp("nginx")
    with run_nginx(prefix, upstream_ports=[server.port for server in daphne_trio]) as nginx:
        yield nginx


@pytest.fixture
async def agent_on_simulator(org_alpha: Any, simulator: Any) -> None:
    await configure_agent(
        org_alpha,
        llm_routes=[
            {"provider": "openai_compatible", "model": "scale-test", "base_url": simulator.base_url}
        ],
        turn_detection=None,
    )


def live_sessions(server: DaphneProcess) -> float:
    """The process's own `aura_realtime_sessions`, read from its /metrics (loopback)."""
    with urllib.request.urlopen(server.http_url + "/metrics", timeout=5) as reply:
        text = reply.read().decode()
    for family in text_string_to_metric_families(text):
        if family.name == "aura_realtime_sessions":
            return sum(sample.value for sample in family.samples)
    return 0.0


async def sessions_by_process(
    servers: list[DaphneProcess], *, total: int, timeout_s: float = 10.0
) -> list[float]:
    """Each live process's open sessions, once they add up to `total`."""
    async with asyncio.timeout(timeout_s):
        while True:
            counts = [
                await asyncio.to_thread(live_sessions, server)
                for server in servers
                if server.process.poll() is None
            ]
            if sum(counts) == total:
                return counts
            await asyncio.sleep(0.1)


async def holder(servers: list[DaphneProcess]) -> DaphneProcess:
    """The one process with an open session (when exactly one session is open)."""
    await sessions_by_process(servers, total=1)
    for server in servers:
        if server.process.poll() is None and await asyncio.to_thread(live_sessions, server) > 0:
            return server
    raise AssertionError("no process holds the session")


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout_s: float = 10.0) -> None:
    """Wait until `check()` is true (state written by another process, asynchronously)."""
    for _ in range(int(timeout_s / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"still not true after {timeout_s} s")


async def drained(socket: ClientConnection) -> None:
    """Read until the connection closes (raises ConnectionClosed)."""
    async with asyncio.timeout(10):
        while True:
            await socket.recv()


async def say(socket: ClientConnection, text: str) -> dict[str, Any]:
    """A user text message and a response to it; returns `response.done`."""
    await send_user_text(socket, text)
    await socket.send(json.dumps({"type": "response.create"}))
    return await next_event(socket, "response.done", timeout_s=60)


async def test_sessions_spread_over_the_three_processes(daphne_trio, proxy, org_alpha):
    key = await issue_key(org_alpha)
    headers = {"Authorization": f"Bearer {key}"}
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(2 * PROCESSES):
            socket = await stack.enter_async_context(
                connect(url(proxy), additional_headers=headers)
            )
            await next_event(socket, "session.created")
        counts = await sessions_by_process(daphne_trio, total=2 * PROCESSES)
    assert all(count >= 1 for count in counts), counts
    upstreams = {
        line.rsplit("upstream=", 1)[1].strip()
        for line in proxy.access_log.read_text().splitlines()
        if "/v1/realtime" in line
    }
    assert upstreams >= {f"127.0.0.1:{server.port}" for server in daphne_trio}


async def test_metrics_are_not_served_through_the_proxy(proxy):
    with pytest.raises(urllib.error.HTTPError) as refused:
        await asyncio.to_thread(urllib.request.urlopen, proxy.http_url + "/metrics", None, 5)
    assert refused.value.code == 404


async def test_an_operator_ends_a_session_held_by_any_process(
    daphne_trio, proxy, org_alpha, agent_on_simulator
):
    from conversations.models import Conversation
    from tenants.db import in_schema

    key = await issue_key(org_alpha)
    headers = {"Authorization": f"Bearer {key}"}
    async with connect(url(proxy, "aura=1"), additional_headers=headers) as socket:
        await next_event(socket, "session.created")
        created = await next_event(socket, "aura.session.created")
        await say(socket, "Hello there.")
        await holder(daphne_trio)
        # Sent from this process (neither of the servers), as an admin action would be.
        await realtime_session_end_async(
            session_id=created["session_id"], reason="Ended by the operator."
        )
        error = await next_event(socket, "error")
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert error["error"]["code"] == "session_ended"
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CLOSE_ENDED_BY_OPERATOR

    def ended() -> bool:
        conversation = Conversation.objects.get(pk=created["conversation_id"])
        return conversation.status == Conversation.Status.ENDED

    await eventually(lambda: in_schema(org_alpha.schema_name, ended))
    # An ended session cannot be resumed.
    async with connect(
        url(proxy, f"aura=1&resume={created['resume_token']}"), additional_headers=headers
    ) as again:
        refused = await next_event(again, "error")
    assert refused["error"]["code"] == "resume_failed"


async def test_killing_a_process_mid_conversation_resumes_on_another(
    daphne_trio, proxy, org_alpha, agent_on_simulator
):
    """Runs last in this module: it leaves two of the three processes."""
    from conversations.models import Message
    from tenants.db import in_schema

    key = await issue_key(org_alpha)
    headers = {"Authorization": f"Bearer {key}"}
    async with connect(url(proxy, "aura=1"), additional_headers=headers) as first:
        await next_event(first, "session.created")
        created = await next_event(first, "aura.session.created")
        await say(first, "My name is Ada.")
        victim = await holder(daphne_trio)
        victim.process.kill()  # SIGKILL: no clean-up, no goodbye, as in a crash
        victim.process.wait(timeout=10)
        with pytest.raises(ConnectionClosed):
            await drained(first)

    async with connect(
        url(proxy, f"aura=1&resume={created['resume_token']}"), additional_headers=headers
    ) as second:
        await next_event(second, "session.created")
        resumed = await next_event(second, "aura.session.created")
        restored = [(await next_event(second, "conversation.item.added"))["item"] for _ in "ab"]
        successor = await holder(daphne_trio)
        done = await say(second, "What is my name?")

    assert resumed["resumed"] is True
    assert resumed["session_id"] == created["session_id"]
    assert resumed["conversation_id"] == created["conversation_id"]
    assert successor is not victim
    assert restored[0]["content"][0]["text"] == "My name is Ada."
    assert restored[1]["role"] == "assistant"
    assert done["response"]["status"] == "completed"

    def texts() -> list[str]:
        return list(
            Message.objects.filter(conversation_id=created["conversation_id"])
            .order_by("id")
            .values_list("text", flat=True)
        )

    # Both turns, before and after the crash, are in the one conversation.
    async def both_turns_saved() -> bool:
        return "What is my name?" in await in_schema(org_alpha.schema_name, texts)

    await eventually(both_turns_saved)
    assert (await in_schema(org_alpha.schema_name, texts)).count("My name is Ada.") == 1
