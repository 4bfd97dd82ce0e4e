from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tenants.models import Organization
from tenants.selectors import resolve_api_key


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_organization_provisions_schema_and_domain(db):
    output = run(
        "create_organization", "--slug", "delta", "--name", "Delta Inc", "--domain", "delta.test"
    )
    organization = Organization.objects.get(slug="delta")
    assert organization.get_primary_domain().domain == "delta.test"
    assert "org_delta" in output


def test_create_organization_reports_bad_input_as_a_command_error(db):
    with pytest.raises(CommandError, match="slug"):
        run("create_organization", "--slug", "Bad Slug", "--name", "x")


def test_create_api_key_prints_the_key_alone_on_its_last_line(org_alpha):
    output = run("create_api_key", "--org", "alpha", "--scope", "realtime")
    key = output.strip().splitlines()[-1]
    assert key.startswith("sk_")
    assert " " not in key
    assert resolve_api_key(key).tenant.slug == "alpha"


def test_create_api_key_issues_publishable_keys_for_origins(org_alpha):
    output = run(
        "create_api_key",
        "--org",
        "alpha",
        "--publishable",
        "--origin",
        "http://alpha.localhost:8000",
    )
    key = output.strip().splitlines()[-1]
    assert key.startswith("pk_")
    assert resolve_api_key(key, origin="http://alpha.localhost:8000").kind == "pk"


def test_create_api_key_limits_a_publishable_key_to_the_agents_named(org_alpha):
    output = run(
        "create_api_key",
        "--org",
        "alpha",
        "--publishable",
        "--origin",
        "https://shop.example",
        "--agent",
        "Support",
    )
    key = output.strip().splitlines()[-1]
    resolved = resolve_api_key(key, origin="https://shop.example")
    assert resolved.allowed_agents == ("Support",)


def test_create_api_key_for_an_unknown_organization_fails_clearly(db):
    with pytest.raises(CommandError, match="no organization"):
        run("create_api_key", "--org", "ghost")


def test_aura_setup_creates_the_demo_organization_once(db):
    first = run("aura_setup", "--demo-slug", "demo-test")
    second = run("aura_setup", "--demo-slug", "demo-test")
    assert "Created organization demo-test" in first
    assert "Database schemas are up to date." in second
    assert "Organization demo-test is ready." in second
    assert Organization.objects.filter(slug="demo-test").count() == 1
