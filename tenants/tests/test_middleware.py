"""HTTP requests find their organization by host; unknown and suspended hosts are refused."""

import pytest
from django.test import Client

from tenants.services import organization_set_status, platform_ensure_public_tenant


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def platform(db):
    return platform_ensure_public_tenant(domains=("localhost", "127.0.0.1"))


def test_an_organization_domain_serves_that_organization(client, org_alpha):
    response = client.get("/", HTTP_HOST="alpha.localhost:8000")
    assert response.status_code == 200
    assert b"Alpha" in response.content


def test_the_platform_domain_serves_the_platform_page(client, platform):
    response = client.get("/", HTTP_HOST="localhost:8000")
    assert response.status_code == 200
    assert b"Self-hostable" in response.content


@pytest.mark.parametrize(
    "host", ["nobody.localhost", "alpha.localhost.evil.example", "ALPHA-.localhost"]
)
def test_an_unknown_host_gets_a_clear_404(client, org_alpha, host):
    response = client.get("/", HTTP_HOST=host)
    assert response.status_code == 404
    assert b"No organization is served at this address." in response.content


def test_an_api_client_gets_a_problem_document(client, org_alpha):
    response = client.get("/api/v1/agents", HTTP_HOST="nobody.localhost")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "unknown_host"


def test_a_suspended_organization_is_refused_with_403(client, org_alpha):
    organization_set_status(organization=org_alpha, status="suspended")
    response = client.get("/", HTTP_HOST="alpha.localhost")
    assert response.status_code == 403
    assert b"suspended" in response.content


def test_a_host_outside_allowed_hosts_is_refused_like_an_unknown_one(client, org_alpha):
    response = client.get("/", HTTP_HOST="evil.example.com")
    assert response.status_code == 404
    assert b"No organization is served at this address." in response.content
