"""Routes to a base_url an organization chose reach public addresses only (public_http.py).

The simulated provider listens on loopback, which is exactly what such a route may not reach
unless the operator allows it: each test says which hosts are allowed. The check is made when
connecting, after DNS, so names and redirects that lead inside are refused as literals are.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import httpcore2
import pytest
import pytest_asyncio
from aiohttp import web

from voice.engine.config import RouteConfig
from voice.engine.errors import ProviderError
from voice.engine.llm.base import ChatMessage, LLMRequest, TextDelta
from voice.engine.net.addresses import BlockedAddressError, allowed_addresses
from voice.engine.net.public_http import PublicOnlyBackend
from voice.engine.routing.providers import llm_from_route
from voice.tests.engine.simulator import SimulatorProcess, run_simulator
from voice.tests.unanswering_dns import unanswering_dns

QUESTION = LLMRequest(messages=(ChatMessage("user", "hello?"),))
OWN_NAME = socket.gethostname()  # machines of this kind map it to loopback in /etc/hosts


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorProcess]:
    with run_simulator(reply="Hi there.") as sim:
        yield sim


def route_to(base_url: str, public_only: tuple[str, ...] | None) -> RouteConfig:
    return RouteConfig(
        provider="openai_compatible",
        model="sim-llm",
        base_url=base_url,
        public_only=public_only,
        timeout_s=5,
    )


async def reply(route: RouteConfig) -> str:
    chunks = [chunk async for chunk in llm_from_route(route).stream(QUESTION)]
    return "".join(chunk.text for chunk in chunks if isinstance(chunk, TextDelta))


async def refusal(route: RouteConfig) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await reply(route)
    return caught.value


async def test_the_operators_own_endpoints_are_not_restricted(
    simulator: SimulatorProcess,
) -> None:
    assert await reply(route_to(simulator.base_url, None)) == "Hi there."


async def test_a_host_the_operator_allows_is_reached(simulator: SimulatorProcess) -> None:
    assert await reply(route_to(simulator.base_url, ("127.0.0.1",))) == "Hi there."
    by_name = f"http://{OWN_NAME}:{simulator.port}/v1"
    assert await reply(route_to(by_name, (OWN_NAME,))) == "Hi there."


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", OWN_NAME, "2130706433", "127.1", "[::ffff:127.0.0.1]"],
)
async def test_loopback_in_any_spelling_is_refused_before_a_byte_is_sent(
    simulator: SimulatorProcess, host: str
) -> None:
    await simulator.reset()

    error = await refusal(route_to(f"http://{host}:{simulator.port}/v1", ()))

    # A connection failure: the router fails over to the next route and says why.
    assert error.code == "provider_unreachable"
    assert error.retryable
    assert "non-public address" in error.message
    assert await simulator.requests() == []


@pytest_asyncio.fixture
async def redirector(simulator: SimulatorProcess) -> AsyncIterator[tuple[str, list[str]]]:
    """A server on an allowed host that redirects every request to the simulator, named by
    a host that is not allowed; yields its base_url and the paths it was asked for."""
    asked: list[str] = []

    async def redirect(request: web.Request) -> web.StreamResponse:
        asked.append(request.path)
        raise web.HTTPTemporaryRedirect(f"http://{OWN_NAME}:{simulator.port}{request.path_qs}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    await web.SockSite(runner, listening).start()
    try:
        yield f"http://localhost:{port}/v1", asked
    finally:
        await runner.cleanup()


async def test_a_redirect_to_a_forbidden_address_is_refused(
    simulator: SimulatorProcess, redirector: tuple[str, list[str]]
) -> None:
    await simulator.reset()
    base_url, asked = redirector

    error = await refusal(route_to(base_url, ("localhost",)))

    assert asked == ["/v1/chat/completions"]  # the allowed host was asked, and redirected
    assert "non-public address" in error.message
    assert await simulator.requests() == []


async def test_every_address_of_a_name_must_be_allowed() -> None:
    assert await allowed_addresses("127.0.0.1", 80, ["127.0.0.1"]) == ["127.0.0.1"]
    assert await allowed_addresses(OWN_NAME, 80, [OWN_NAME]) != []
    with pytest.raises(BlockedAddressError, match="non-public"):
        await allowed_addresses(OWN_NAME, 80, ["10.0.0.1"])


async def test_the_backend_refuses_unix_sockets_and_unresolvable_names() -> None:
    backend = PublicOnlyBackend()
    with pytest.raises(httpcore2.ConnectError):
        await backend.connect_unix_socket("/var/run/docker.sock")
    with pytest.raises(httpcore2.ConnectError):
        await backend.connect_tcp("name with spaces", 80, timeout=2)


async def test_a_base_url_whose_dns_never_answers_fails_the_route_in_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with unanswering_dns(monkeypatch, workers=1, timeout_s=0.5) as dns:
        error = await refusal(route_to("https://hangs.example/v1", ()))
        assert dns.blocked == 1
    assert error.code == "provider_unreachable"
    assert error.retryable  # the router fails over to the next route
    assert "hangs.example did not resolve within 0.5 s" in error.message
