"""Fixtures of the REST API tests: the platform host, keys, and a client that sends them.

These tests cover core/api/, tenants/rest/ and the API modules of every app (voice/api/,
conversations/api.py, tenants/api.py): test_<module>.py tests that module.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.test.utils import override_settings

from tenants.models import Organization
from tenants.services import api_key_create, platform_ensure_public_tenant

ALL_ORGANIZATION_SCOPES = ["admin", "agents", "conversations", "keys", "realtime", "tools", "usage"]


class Api:
    """A test client that sends one key on every request, on the platform host by default."""

    def __init__(self, key: str | None, host: str = "localhost"):
        self.key = key
        self.host = host
        self.client = Client()

    def _headers(self, extra: dict[str, Any] | None) -> dict[str, Any]:
        headers: dict[str, Any] = {"HTTP_HOST": self.host}
        if self.key is not None:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.key}"
        headers.update(extra or {})
        return headers

    def get(self, path: str, params: dict[str, Any] | None = None, **extra: Any) -> Any:
        return self.client.get(path, params or {}, **self._headers(extra))

    def post(self, path: str, body: Any = None, **extra: str) -> Any:
        return self._send("post", path, body, extra)

    def patch(self, path: str, body: Any = None, **extra: str) -> Any:
        return self._send("patch", path, body, extra)

    def put(self, path: str, body: Any = None, **extra: str) -> Any:
        return self._send("put", path, body, extra)

    def delete(self, path: str, **extra: Any) -> Any:
        return self.client.delete(path, **self._headers(extra))

    def _send(self, method: str, path: str, body: Any, extra: dict[str, str]) -> Any:
        data = (
            body if isinstance(body, str | bytes) else json.dumps(body if body is not None else {})
        )
        return getattr(self.client, method)(
            path, data, content_type="application/json", **self._headers(extra)
        )


@pytest.fixture
def platform(db: None) -> Organization:
    return platform_ensure_public_tenant(domains=("localhost", "testserver"))


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Any:
    """Each test counts in its own Redis windows (runs and tests never share counters)."""
    with override_settings(AURA_API_RATE_LIMIT_NAMESPACE=f"test-{uuid.uuid4().hex}"):
        yield


@pytest.fixture
def make_key(platform: Organization) -> Callable[..., str]:
    def make(organization: Organization, scopes: list[str] | None = None, **options: Any) -> str:
        issued = api_key_create(
            organization=organization,
            scopes=ALL_ORGANIZATION_SCOPES if scopes is None else scopes,
            **options,
        )
        return issued.plaintext

    return make


@pytest.fixture
def alpha(org_alpha: Organization, make_key: Callable[..., str]) -> Api:
    return Api(make_key(org_alpha))


@pytest.fixture
def beta(org_beta: Organization, make_key: Callable[..., str]) -> Api:
    return Api(make_key(org_beta))


@pytest.fixture
def staff(platform: Organization, make_key: Callable[..., str]) -> Api:
    return Api(make_key(platform, scopes=["staff"]))


def problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert a problem document with this status (and code); return it."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "code"} <= set(body)
    if code is not None:
        assert body["code"] == code, body
    return body
