"""Property-based tests of the whole REST API against its own OpenAPI document.

Schemathesis generates requests for every operation, valid and invalid, from /api/schema/,
sends them in-process to the WSGI application (real PostgreSQL and Redis behind it), and checks
every answer: never a 5xx, and always a status, content type, headers and body that the
document declares (errors included, as problem documents).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from django_tenants.utils import schema_context
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from aura_project.wsgi import application
from conversations.services import conversation_record_turn, conversation_start
from voice.services import provider_credential_set

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _api_schema() -> Any:
    """The document /api/schema/ serves, generated without a request, bound to the WSGI app.

    (schemathesis.pytest.from_fixture, the lazy loader, does not run on pytest 9.)
    """
    generated = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(generated)))
    loaded.app = application
    return loaded


schema = _api_schema()


@pytest.fixture(autouse=True)
def _requests_keep_the_test_connection() -> Iterator[None]:
    # As Django's test client does: a request must not close the test's connection (and with
    # it the transaction that holds this test's rows).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def keys(org_alpha: Any, platform: Any, make_key: Any, settings: Any) -> dict[str, str]:
    # Hundreds of requests a test: far below these limits (rate limits have their own tests).
    settings.AURA_API_RATE_LIMIT_PER_KEY = "100000/minute"
    settings.AURA_API_RATE_LIMIT_PER_ORGANIZATION = "100000/minute"
    with schema_context(org_alpha.schema_name):
        conversation = conversation_start(end_user_id="schemathesis")
        conversation_record_turn(
            conversation_id=str(conversation.pk),
            messages=[
                {"role": "user", "text": "What time is it?"},
                {"role": "assistant", "text": f"It is {timezone.now():%H:%M}."},
            ],
        )
        provider_credential_set(provider="openai", api_key="sk-test-" + "x" * 40)
    return {"organization": make_key(org_alpha), "staff": make_key(platform, scopes=["staff"])}


# schemathesis types parametrize() as returning a bare Callable.
@schema.parametrize()  # type: ignore[untyped-decorator]
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_to_its_schema(case: Any, keys: dict[str, str]) -> None:
    key = keys["staff"] if case.path.startswith("/api/v1/platform/") else keys["organization"]
    case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)
