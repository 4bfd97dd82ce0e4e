"""Tenant webhook tools: signed requests to the tenant's endpoint, and nowhere else.

The endpoint is a real HTTP server on loopback, which the operator allow-lists for the test
(AURA_WEBHOOK_ALLOWED_HOSTS); everything else that is not public is refused.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django_tenants.utils import schema_context

from tenants.db import in_schema
from voice.engine.config import AgentConfig
from voice.engine.errors import InvalidRequestError, ToolError
from voice.engine.llm.base import ToolCall
from voice.engine.net.addresses import BlockedAddressError, address_allowed
from voice.engine.pipeline.tools import ToolRegistry
from voice.models import WebhookTool
from voice.selectors import agent_config, agent_for_session, webhook_definitions
from voice.services import agent_create, webhook_tool_create
from voice.tests.unanswering_dns import unanswering_dns
from voice.tests.webhook_endpoint import SIGNING_SECRET as SECRET
from voice.tests.webhook_endpoint import OrderService, serve_order_service
from voice.webhooks import GuardedResolver, WebhookDefinition, WebhookExecutor, check_webhook_url

LOOPBACK = ("127.0.0.1",)


@pytest_asyncio.fixture
async def order_service() -> AsyncIterator[OrderService]:
    async with serve_order_service() as service:
        yield service


async def call(
    url: str,
    *,
    allowed: tuple[str, ...] = LOOPBACK,
    allow_http: bool = False,
    timeout_s: float = 2.0,
    order: str = "A-1",
) -> str:
    """One `lookup_order` call through an executor for a webhook at `url`."""
    definition = WebhookDefinition("lookup_order", url, SECRET, timeout_s)
    async with WebhookExecutor(
        [definition], allowed_hosts=allowed, allow_http=allow_http
    ) as webhooks:
        return await webhooks.execute("lookup_order", {"order": order}, call_id="call_1")


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("64:ff9b::7f00:1", False),  # NAT64 to 127.0.0.1
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
        ("::7f00:1", False),  # IPv4-compatible 127.0.0.1
        ("fe80::1", False),
        ("fd00::1", False),
    ],
)
def test_only_public_addresses_are_reachable(address: str, allowed: bool) -> None:
    assert address_allowed(address) is allowed


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "http://user:pass@example.com/hook",
        "http://localhost/hook",
        "http://api.localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5:8080/hook",
        "http://localhost./hook",
        "http://2130706433/hook",  # 127.0.0.1 as one number
        "http://0x7f000001/hook",
        "http://127.1/hook",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",  # NAT64 to the metadata service
        "http://[2002:7f00:1::]/hook",  # 6to4 of loopback
        "http://[::127.0.0.1]/hook",  # IPv4-compatible loopback
        "http://example.com:99999/hook",
        "not a url",
    ],
)
def test_webhook_urls_that_are_not_public_http_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        check_webhook_url(url, allow_http=True)
    assert refused.value.param == "url"


def test_plain_http_is_refused_unless_allowed_or_the_host_is_the_operators() -> None:
    with pytest.raises(InvalidRequestError, match="https") as refused:
        check_webhook_url("http://crm.example.com/hook")
    assert refused.value.param == "url"
    check_webhook_url("http://crm.example.com/hook", allow_http=True)
    check_webhook_url("http://10.0.0.5:8080/hook", ["10.0.0.5"])  # the operator's network
    check_webhook_url("https://crm.example.com/hook")


async def test_a_webhook_saved_over_http_is_refused_at_call_time_where_http_is() -> None:
    with pytest.raises(ToolError, match="https"):
        await call("http://crm.example.com/hook", allowed=())


@pytest.mark.parametrize(
    ("allow_http", "accepted"), [(True, True), (False, False)], ids=["development", "production"]
)
def test_webhook_tools_and_routes_take_http_urls_only_where_the_setting_allows(
    org_alpha: Any, settings: Any, allow_http: bool, accepted: bool
) -> None:
    settings.AURA_TENANT_URLS_ALLOW_HTTP = allow_http
    route = {"provider": "openai_compatible", "model": "m", "base_url": "http://llm.example/v1"}
    with schema_context(org_alpha.schema_name):
        attempts = {
            "url": lambda: webhook_tool_create(
                name="crm_lookup", url="http://crm.example.com/hook", signing_secret=SECRET
            ),
            "llm_routes": lambda: agent_create(name="Plain", llm_routes=[route]),
        }
        for param, attempt in attempts.items():
            if accepted:
                attempt()
                continue
            with pytest.raises(InvalidRequestError, match="https") as refused:
                attempt()
            assert refused.value.param == param


def test_an_operator_may_allow_a_private_host() -> None:
    check_webhook_url("http://127.0.0.1:9000/hook", ["127.0.0.1"])
    check_webhook_url("https://example.com/hook")


async def test_a_name_resolving_to_a_private_address_is_refused_at_connection_time() -> None:
    with pytest.raises(BlockedAddressError):
        await GuardedResolver(()).resolve("localhost", 80)
    # The machine's own name passes the literal check (it is just a name), and resolves to
    # loopback or a private address: the check when connecting stops it.
    # (Machines of this project's kind map their name in /etc/hosts.)
    own_name = socket.gethostname()
    with pytest.raises(ToolError, match="non-public address"):
        await call(f"https://{own_name}:9/hook", allowed=())


async def test_a_webhook_whose_dns_never_answers_fails_alone_while_queries_go_on(
    org_alpha: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stored_tools() -> int:
        return WebhookTool.objects.count()

    with unanswering_dns(monkeypatch, workers=2, timeout_s=1.0) as dns:
        # More stuck calls than the event loop's default executor has threads (at most 32):
        # in a pool shared with the database they would hold every thread.
        stuck = [
            asyncio.ensure_future(call(f"https://h{n}.example/hook", allowed=(), timeout_s=60))
            for n in range(40)
        ]
        await dns.wait_until_blocked(2)

        async with asyncio.timeout(60):
            counts = await asyncio.gather(
                *(in_schema(org_alpha.schema_name, stored_tools) for _ in range(20))
            )
        assert dns.blocked == 2  # the lookups are still stuck
        assert not dns.released.is_set()
        assert counts == [0] * 20

        outcomes = await asyncio.gather(*stuck, return_exceptions=True)
    for outcome in outcomes:
        assert isinstance(outcome, ToolError), outcome
        assert "did not resolve within 1 s" in outcome.message


async def test_a_signed_call_reaches_the_webhook_and_its_answer_comes_back(
    order_service: OrderService,
) -> None:
    answer = await call(f"{order_service.base_url}/orders", order="A-17")
    assert json.loads(answer) == {"order": "A-17", "status": "shipped", "verified": True}
    (request,) = order_service.received
    assert request == {
        "path": "/orders",
        "verified": True,
        "tool": "lookup_order",
        "call_id": "call_1",
        "arguments": {"order": "A-17"},
    }


async def test_a_redirect_is_not_followed(order_service: OrderService) -> None:
    with pytest.raises(ToolError, match="redirect"):
        await call(f"{order_service.base_url}/redirect")
    assert len(order_service.received) == 1


@pytest.mark.parametrize(
    ("path", "message"),
    [("/broken", "HTTP 500"), ("/huge", "exceeds 64 KiB"), ("/slow", "TimeoutError")],
)
async def test_failing_webhooks_become_tool_errors(
    order_service: OrderService, path: str, message: str
) -> None:
    with pytest.raises(ToolError, match=message):
        await call(f"{order_service.base_url}{path}", timeout_s=0.5)


async def test_through_the_registry_the_model_gets_the_result_or_the_error(
    order_service: OrderService, org_alpha: Any, settings: Any
) -> None:
    settings.AURA_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]

    def register() -> tuple[AgentConfig, list[WebhookDefinition]]:
        with schema_context(org_alpha.schema_name):
            tool = webhook_tool_create(
                name="lookup_order",
                url=f"{order_service.base_url}/orders",
                signing_secret=SECRET,
                parameters={"type": "object", "properties": {"order": {"type": "string"}}},
            )
            agent = agent_for_session(None)
            agent.webhook_tools.add(tool)
            return agent_config(agent), webhook_definitions(["lookup_order"])

    def unregister() -> None:
        # Written from another thread, so outside the test's transaction: remove it here.
        with schema_context(org_alpha.schema_name):
            WebhookTool.objects.filter(name="lookup_order").delete()

    config, definitions = await sync_to_async(register)()
    try:
        async with WebhookExecutor(definitions, allowed_hosts=LOOPBACK) as webhooks:
            registry = ToolRegistry(config.tools, executor=webhooks)
            result = await registry.execute(ToolCall("call_1", "lookup_order", '{"order": "B-2"}'))
            refused = await registry.execute(ToolCall("call_2", "lookup_order", '{"order": 7}'))
    finally:
        await sync_to_async(unregister)()
    assert json.loads(result.output)["status"] == "shipped"
    assert not refused.ok
    assert len(order_service.received) == 1  # bad arguments are never sent


def test_the_signing_secret_is_stored_encrypted_and_stays_in_its_organization(
    org_alpha: Any, org_beta: Any
) -> None:
    with schema_context(org_alpha.schema_name):
        tool = webhook_tool_create(
            name="crm_lookup", url="https://crm.example.com/hook", signing_secret=SECRET
        )
        assert SECRET not in tool.signing_secret_encrypted
        (definition,) = webhook_definitions(["crm_lookup"])
        assert definition.signing_secret == SECRET
        assert SECRET not in repr(definition)
    with schema_context(org_beta.schema_name):
        assert webhook_definitions(["crm_lookup"]) == []


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"name": "get_current_time"}, "name"),
        ({"name": "9lives"}, "name"),
        ({"url": "http://169.254.169.254/"}, "url"),
        ({"signing_secret": "short"}, "signing_secret"),
        ({"timeout_s": 120}, "timeout_s"),
        ({"parameters": {"type": "string"}}, "parameters"),
        ({"parameters": {"type": "object", "required": "order"}}, "parameters"),
        ({"parameters": {"type": "object", "$ref": "https://schemas.example/x"}}, "parameters"),
        (
            {"parameters": {"type": "object", "properties": {"a": {"pattern": "(a+)+$"}}}},
            "parameters",
        ),
    ],
)
def test_bad_webhook_tools_are_refused_with_the_field_named(
    org_alpha: Any, changes: dict[str, Any], param: str
) -> None:
    fields: dict[str, Any] = {
        "name": "crm_lookup",
        "url": "https://crm.example.com/hook",
        "signing_secret": SECRET,
        **changes,
    }
    with schema_context(org_alpha.schema_name), pytest.raises(InvalidRequestError) as refused:
        webhook_tool_create(**fields)
    assert refused.value.param == param
