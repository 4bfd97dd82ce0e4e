from io import StringIO
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django_tenants.utils import schema_context

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
    domain = organization.get_primary_domain()
    assert domain is not None
    assert domain.domain == "delta.test"
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


def test_aura_setup_creates_the_demo_organization_once_with_its_admin(db):
    first = run("aura_setup", "--demo", "--demo-slug", "demo-test")
    second = run("aura_setup", "--demo", "--demo-slug", "demo-test")
    assert "Created organization demo-test" in first
    assert "Database schemas are up to date." in second
    assert "Organization demo-test is ready." in second
    assert Organization.objects.filter(slug="demo-test").count() == 1
    # The first run makes the demo's admin and says how to get in; later runs say where.
    assert "Demo admin: https://demo-test.localhost/admin/, user admin@demo.localhost." in first
    assert "https://demo-test.localhost/admin/set-password/" in first
    assert "Demo admin: https://demo-test.localhost/admin/ (a new set-password link:" in second
    assert "create_org_admin --org demo-test --email admin@demo.localhost" in second
    with schema_context("org_demo_test"):
        assert User.objects.get(username="admin@demo.localhost").is_superuser


def test_aura_setup_creates_the_demo_only_in_development_or_when_asked(db, settings):
    settings.AURA_CREATE_DEMO = False  # settings other than development (test, staging)
    run("aura_setup", "--demo-slug", "demo-test")
    assert not Organization.objects.filter(slug="demo-test").exists()

    settings.AURA_CREATE_DEMO = True  # aura_project.settings.dev
    assert "Created organization demo-test" in run("aura_setup", "--demo-slug", "demo-test")


def test_aura_setup_never_creates_the_demo_under_production_settings(db, settings):
    settings.AURA_ENV = "production"
    settings.AURA_CREATE_DEMO = True

    output = run("aura_setup", "--demo-slug", "demo-test")
    with pytest.raises(CommandError, match="never created under the production settings"):
        run("aura_setup", "--demo", "--demo-slug", "demo-test")

    assert "Demo admin" not in output
    assert not Organization.objects.filter(slug="demo-test").exists()


# --- create_org_admin ------------------------------------------------------------------------


def choose_password(link: str, password: str) -> Any:
    """Follow a set-password link as a browser on the organization's domain would."""
    url = urlsplit(link)
    browser = Client(HTTP_HOST=url.hostname)
    form = browser.get(url.path, follow=True)
    assert form.status_code == 200
    return browser.post(
        form.redirect_chain[-1][0] if form.redirect_chain else url.path,
        {"new_password1": password, "new_password2": password},
    )


def sign_in(host: str, username: str, password: str) -> Any:
    return Client(HTTP_HOST=host).post(
        "/admin/login/", {"username": username, "password": password, "next": "/admin/"}
    )


def test_create_org_admin_prints_a_link_that_sets_the_admins_password_once(org_alpha, org_beta):
    output = run("create_org_admin", "--org", "alpha", "--email", "Boss@Alpha.example")
    link = output.strip().splitlines()[-1]

    assert "Created admin boss@alpha.example of alpha" in output
    assert link.startswith("https://alpha.localhost/admin/set-password/")
    with schema_context(org_alpha.schema_name):
        boss = User.objects.get(username="boss@alpha.example")
        assert (boss.is_superuser, boss.is_staff, boss.has_usable_password()) == (True, True, False)
    with schema_context(org_beta.schema_name):
        assert not User.objects.filter(username="boss@alpha.example").exists()

    done = choose_password(link, "a fresh passphrase 77")

    assert done.status_code == 302
    assert done["Location"] == "/admin/set-password/done/"
    assert (
        sign_in("alpha.localhost", "boss@alpha.example", "a fresh passphrase 77").status_code == 302
    )
    # Spent: the same link sets nothing any more.
    again = Client(HTTP_HOST="alpha.localhost").get(urlsplit(link).path, follow=True)
    assert "The password reset link was invalid" in again.content.decode()
    # The account is alpha's: it is nobody on beta's domain.
    assert (
        sign_in("beta.localhost", "boss@alpha.example", "a fresh passphrase 77").status_code == 200
    )


def test_create_org_admin_again_resets_the_admin(org_alpha):
    first = run("create_org_admin", "--org", "alpha", "--email", "boss@alpha.example")
    choose_password(first.strip().splitlines()[-1], "the first passphrase 1")

    second = run("create_org_admin", "--org", "alpha", "--email", "boss@alpha.example")

    assert "Reset admin boss@alpha.example of alpha" in second
    assert (
        sign_in("alpha.localhost", "boss@alpha.example", "the first passphrase 1").status_code
        == 200
    )
    choose_password(second.strip().splitlines()[-1], "the second passphrase 2")
    assert (
        sign_in("alpha.localhost", "boss@alpha.example", "the second passphrase 2").status_code
        == 302
    )


def test_a_set_password_link_expires(org_alpha, settings):
    link = run("create_org_admin", "--org", "alpha", "--email", "late@alpha.example").split()[-1]
    settings.PASSWORD_RESET_TIMEOUT = -1  # issued longer ago than the links last

    page = Client(HTTP_HOST="alpha.localhost").get(urlsplit(link).path, follow=True)

    assert "The password reset link was invalid" in page.content.decode()


def test_create_org_admin_refuses_bad_input_clearly(org_alpha):
    with pytest.raises(CommandError, match="no organization with slug 'ghost'"):
        run("create_org_admin", "--org", "ghost", "--email", "a@b.example")
    with pytest.raises(CommandError, match="not an email address"):
        run("create_org_admin", "--org", "alpha", "--email", "not-an-email")
