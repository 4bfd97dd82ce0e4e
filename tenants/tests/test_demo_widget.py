"""Each organization's demo page shows the voice widget with a publishable key whose origins
come from configuration (AURA_DEMO_PAGE_ORIGINS over the organization's domains)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import aiohttp
import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.test import AsyncClient, Client
from websockets.asyncio.client import connect
from websockets.typing import Origin, Subprotocol

from tenants.demo_widget import DEMO_KEY_NAME, demo_widget_key_plaintext
from tenants.errors import PermissionDeniedError
from tenants.models import ApiKey, Domain
from tenants.selectors import resolve_api_key
from tenants.services import api_key_revoke
from voice.tests.realtime.server import DaphneProcess, run_daphne

WIDGET_TAG = re.compile(
    r'<script type="module" src="/static/aura/widget\.js" data-key="(?P<key>pk_[^"]+)"'
)


@pytest.fixture
def client() -> Client:
    return Client()


def widget_key(page: bytes) -> str | None:
    found = WIDGET_TAG.search(page.decode())
    return found["key"] if found else None


def test_the_demo_page_embeds_the_widget_with_a_key_for_its_own_origin(client, org_alpha):
    response = client.get("/", HTTP_HOST="alpha.localhost:8000")
    assert response.status_code == 200
    key = widget_key(response.content)
    assert key == demo_widget_key_plaintext(org_alpha)
    resolved = resolve_api_key(key, required_scope="realtime", origin="http://alpha.localhost:8000")
    assert resolved.tenant.schema_name == org_alpha.schema_name
    assert resolved.kind == ApiKey.Kind.PUBLISHABLE
    with pytest.raises(PermissionDeniedError):
        resolve_api_key(key, required_scope="realtime", origin="https://elsewhere.example")


def test_visits_reuse_one_key_and_never_take_an_origin_from_the_host_header(client, org_alpha):
    first = widget_key(client.get("/", HTTP_HOST="alpha.localhost:8000").content)
    assert first is not None
    # Any port passes ALLOWED_HOSTS (".localhost"); the Host header is the client's to write.
    elsewhere = client.get("/", HTTP_HOST="alpha.localhost:9000")
    assert elsewhere.status_code == 200
    assert widget_key(elsewhere.content) is None
    assert b"http://alpha.localhost:8000" in elsewhere.content
    assert widget_key(client.get("/", HTTP_HOST="alpha.localhost:8000").content) == first
    api_key = ApiKey.objects.get(organization=org_alpha, name=DEMO_KEY_NAME)
    assert api_key.allowed_origins == ["http://alpha.localhost:8000"]
    assert api_key.scopes == ["realtime"]
    with pytest.raises(PermissionDeniedError):
        resolve_api_key(first, required_scope="realtime", origin="http://alpha.localhost:9000")


def test_the_key_follows_the_configured_origins_for_every_domain(client, org_alpha, settings):
    settings.AURA_DEMO_PAGE_ORIGINS = ["https://{domain}", "http://{domain}:8000"]
    Domain.objects.create(domain="voice.alpha.example", tenant=org_alpha, is_primary=False)
    client.get("/", HTTP_HOST="alpha.localhost:8000")
    api_key = ApiKey.objects.get(organization=org_alpha, name=DEMO_KEY_NAME)
    assert api_key.allowed_origins == [
        "https://alpha.localhost",
        "https://voice.alpha.example",
        "http://alpha.localhost:8000",
        "http://voice.alpha.example:8000",
    ]
    settings.AURA_DEMO_PAGE_ORIGINS = ["https://{domain}"]
    page = client.get("/", HTTP_HOST="alpha.localhost", secure=True)
    assert widget_key(page.content) == demo_widget_key_plaintext(org_alpha)
    api_key.refresh_from_db()
    assert api_key.allowed_origins == ["https://alpha.localhost", "https://voice.alpha.example"]


def test_organizations_get_different_demo_keys(client, org_alpha, org_beta):
    alpha = widget_key(client.get("/", HTTP_HOST="alpha.localhost:8000").content)
    beta = widget_key(client.get("/", HTTP_HOST="beta.localhost:8000").content)
    assert alpha
    assert beta
    assert alpha != beta
    with pytest.raises(PermissionDeniedError):
        # Beta's page origin is not on alpha's key.
        resolve_api_key(alpha, required_scope="realtime", origin="http://beta.localhost:8000")


def test_a_revoked_demo_key_takes_the_widget_off_the_page(client, org_alpha):
    client.get("/", HTTP_HOST="alpha.localhost")
    api_key_revoke(api_key=ApiKey.objects.get(organization=org_alpha, name=DEMO_KEY_NAME))
    response = client.get("/", HTTP_HOST="alpha.localhost")
    assert response.status_code == 200
    assert widget_key(response.content) is None
    assert b"revoked" in response.content
    assert ApiKey.objects.filter(organization=org_alpha, name=DEMO_KEY_NAME).count() == 1


def test_with_demo_pages_off_no_widget_is_shown_and_no_key_is_made(client, org_alpha, settings):
    settings.AURA_DEMO_PAGES = False
    response = client.get("/", HTTP_HOST="alpha.localhost")
    assert response.status_code == 200
    assert widget_key(response.content) is None
    assert b"revoked" not in response.content
    assert not ApiKey.objects.filter(organization=org_alpha, name=DEMO_KEY_NAME).exists()


@pytest.mark.parametrize("host", ["alpha.localhost", "localhost", "127.0.0.1"])
async def test_the_widget_is_served_on_every_domain_for_any_site_to_load(org_alpha, host):
    # Served as daphne serves it: through the asynchronous handler.
    response = await AsyncClient().get("/static/aura/widget.js", headers={"host": host})
    assert response.status_code == 200
    assert "javascript" in response["Content-Type"]
    assert response["Access-Control-Allow-Origin"] == "*"
    body = b"".join([chunk async for chunk in response.streaming_content])  # type: ignore[attr-defined]
    assert b"customElements.define" in body


def test_the_worklets_are_served_too(client, org_alpha):
    for name in ("capture-processor.js", "playback-processor.js", "resampler.js"):
        response = client.get(f"/static/aura/worklets/{name}", HTTP_HOST="alpha.localhost")
        assert response.status_code == 200, name


@pytest.fixture(scope="module")
def demo_server(django_db_setup: None, tenant_schemas: None) -> Iterator[DaphneProcess]:
    from django.db import connection

    with run_daphne(database_name=connection.settings_dict["NAME"]) as server:
        yield server


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
async def test_the_demo_page_on_daphne_opens_a_session_from_its_configured_origin(
    demo_server, org_alpha
):
    """As a browser does it: the page from alpha's domain on daphne's port (its PORT), then
    the socket with the page's origin; the same page under a Host with another port has none."""
    page_origin = f"http://alpha.localhost:{demo_server.port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{demo_server.http_url}/", headers={"Host": f"alpha.localhost:{demo_server.port}"}
        ) as page:
            key = widget_key(await page.read())
        async with http.get(
            f"{demo_server.http_url}/", headers={"Host": "alpha.localhost:1"}
        ) as elsewhere:
            assert widget_key(await elsewhere.read()) is None
    assert key is not None
    async with connect(
        f"{demo_server.websocket_base_url}/realtime",
        subprotocols=[Subprotocol("realtime"), Subprotocol(f"openai-insecure-api-key.{key}")],
        origin=Origin(page_origin),
    ) as socket:
        assert json.loads(await socket.recv())["type"] == "session.created"
    api_key = await sync_to_async(ApiKey.objects.get)(prefix=key[:11])
    assert api_key.allowed_origins == [page_origin]
    await sync_to_async(connections.close_all)()
