"""core/admin_site.py: the platform's admin and each organization's own, signed in to for
real (the login form, a password, a session), as an organization's admin would try them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from django_tenants.utils import schema_context

from conversations.models import Conversation, TurnMetrics
from monitoring.services import usage_record, usage_roll_up
from tenants.models import Organization
from tenants.services import platform_ensure_public_tenant

pytestmark = pytest.mark.django_db

PASSWORD = "a long test passphrase 42"
BEAT_MODELS = (PeriodicTask, IntervalSchedule, CrontabSchedule, ClockedSchedule, SolarSchedule)


@pytest.fixture(autouse=True)
def _fresh_sign_in_windows(settings: Any) -> None:
    """Each test counts failed sign-ins in its own Redis windows."""
    settings.AURA_REDIS_KEY_PREFIX = f"test-admin-{uuid.uuid4().hex}"


@pytest.fixture
def platform() -> Organization:
    return platform_ensure_public_tenant(domains=("localhost",))


@pytest.fixture
def beat_rows(platform: Organization) -> dict[str, Any]:
    """One row of each of django_celery_beat's models (the platform's schedule)."""
    interval = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)
    return {
        "periodictask": PeriodicTask.objects.create(
            name="end stale", task="conversations.end_stale_everywhere", interval=interval
        ),
        "intervalschedule": interval,
        "crontabschedule": CrontabSchedule.objects.create(minute="5"),
        "clockedschedule": ClockedSchedule.objects.create(clocked_time=timezone.now()),
        "solarschedule": SolarSchedule.objects.create(
            event="sunrise", latitude=53.35, longitude=-6.26
        ),
    }


def superuser(schema_name: str, username: str) -> User:
    with schema_context(schema_name):
        return User.objects.create_superuser(username, f"{username}@example.com", PASSWORD)


def signed_in(host: str, username: str, address: str = "10.1.0.1") -> Client:
    """A browser that signed in through the admin's login form."""
    client = Client(HTTP_HOST=host, REMOTE_ADDR=address)
    response = client.post(
        "/admin/login/", {"username": username, "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == "/admin/"
    return client


def sign_in(client: Client, username: str, password: str) -> Any:
    return client.post(
        "/admin/login/", {"username": username, "password": password, "next": "/admin/"}
    )


def beat_urls(rows: dict[str, Any]) -> list[str]:
    urls = ["/admin/django_celery_beat/"]
    for name, row in rows.items():
        base = f"/admin/django_celery_beat/{name}/"
        urls += [base, f"{base}add/", f"{base}{row.pk}/change/", f"{base}{row.pk}/delete/"]
    return urls


# --- Who sees the Celery beat schedule ---------------------------------------------------------


def test_an_organizations_admin_cannot_reach_the_platforms_beat_schedule(
    org_alpha: Organization, beat_rows: dict[str, Any]
) -> None:
    superuser(org_alpha.schema_name, "alice")
    alpha = signed_in("alpha.localhost", "alice")

    index = alpha.get("/admin/")

    assert index.status_code == 200
    assert "django_celery_beat" not in index.content.decode()
    assert "Periodic tasks" not in index.content.decode()
    for url in beat_urls(beat_rows):
        assert alpha.get(url).status_code in (403, 404), url


def test_an_organizations_admin_can_neither_create_nor_run_nor_disable_a_periodic_task(
    org_alpha: Organization, beat_rows: dict[str, Any]
) -> None:
    superuser(org_alpha.schema_name, "alice")
    alpha = signed_in("alpha.localhost", "alice")
    task = beat_rows["periodictask"]

    created = alpha.post(
        "/admin/django_celery_beat/periodictask/add/",
        {"name": "evil", "task": "conversations.end_stale", "args": '["org_beta"]'},
    )
    ran = alpha.post(
        "/admin/django_celery_beat/periodictask/",
        {"action": "run_tasks", "_selected_action": [task.pk]},
    )
    disabled = alpha.post(
        "/admin/django_celery_beat/periodictask/",
        {"action": "disable_tasks", "_selected_action": [task.pk]},
    )

    assert {created.status_code, ran.status_code, disabled.status_code} <= {403, 404}
    assert list(PeriodicTask.objects.values_list("name", "enabled")) == [("end stale", True)]


def test_the_platforms_superuser_manages_the_beat_schedule_on_the_platforms_domain(
    platform: Organization, beat_rows: dict[str, Any]
) -> None:
    superuser(platform.schema_name, "operator")
    operator = signed_in("localhost", "operator")

    index = operator.get("/admin/").content.decode()

    for model in BEAT_MODELS:
        assert f"/admin/django_celery_beat/{model._meta.model_name}/" in index
    for url in beat_urls(beat_rows):
        assert operator.get(url).status_code == 200, url
    assert "/admin/tenants/organization/" in index


def test_the_platforms_pages_do_not_exist_on_an_organizations_domain(
    org_alpha: Organization, platform: Organization
) -> None:
    superuser(org_alpha.schema_name, "alice")
    alpha = signed_in("alpha.localhost", "alice")

    assert alpha.get("/admin/tenants/organization/").status_code == 404
    assert alpha.get(f"/admin/tenants/organization/{org_alpha.pk}/change/").status_code == 404
    # Its own users and groups live in its schema: those it manages.
    users = alpha.get("/admin/auth/user/")
    assert users.status_code == 200
    assert "alice" in users.content.decode()


def test_an_organizations_admin_is_nobody_on_the_platforms_domain(
    org_alpha: Organization, platform: Organization
) -> None:
    superuser(org_alpha.schema_name, "alice")
    alpha = signed_in("alpha.localhost", "alice")

    alpha.defaults["HTTP_HOST"] = "localhost"
    refused = alpha.get("/admin/django_celery_beat/periodictask/")
    assert refused.status_code == 302
    assert refused["Location"].startswith("/admin/login/")
    assert sign_in(alpha, "alice", PASSWORD).status_code == 200  # no such user here


# --- Branding and the landing page ---------------------------------------------------------


def test_the_admin_is_aura_and_names_the_organization(
    org_alpha: Organization, platform: Organization
) -> None:
    superuser(org_alpha.schema_name, "alice")
    superuser(platform.schema_name, "operator")

    tenant_page = signed_in("alpha.localhost", "alice").get("/admin/").content.decode()
    platform_page = signed_in("localhost", "operator").get("/admin/").content.decode()
    login_page = Client(HTTP_HOST="alpha.localhost").get("/admin/login/").content.decode()

    assert "Django administration" not in tenant_page + platform_page + login_page
    assert "AURA · Alpha" in tenant_page
    assert "<title>Alpha today | Alpha · AURA admin</title>" in tenant_page
    assert "AURA platform administration" in platform_page
    assert "AURA · Alpha" in login_page


def test_an_organizations_admin_lands_on_its_day(org_alpha: Organization) -> None:
    with schema_context(org_alpha.schema_name):
        conversation = Conversation.objects.create(end_user_id="caller")
        TurnMetrics.objects.create(
            conversation=conversation, voice_to_voice_ms=700.0, status="completed"
        )
        TurnMetrics.objects.create(
            conversation=conversation, voice_to_voice_ms=900.0, status="completed"
        )
        TurnMetrics.objects.create(conversation=conversation, status="failed")
        TurnMetrics.objects.create(
            conversation=conversation, voice_to_voice_ms=800.0, status="completed"
        )
        usage_record(
            conversation_id=str(conversation.pk),
            records=[
                {"stage": "llm", "provider": "openai", "model": "gpt-4o", "prompt_tokens": 8000}
            ],
        )
        usage_roll_up(period="day", period_start=timezone.now())
    superuser(org_alpha.schema_name, "alice")

    html = signed_in("alpha.localhost", "alice").get("/admin/").content.decode()

    today = html[html.index('id="aura-today"') :]
    assert "<td><strong>1</strong></td>" in today  # one conversation
    assert "<strong>75.0 %</strong> of 4 turns" in today
    assert "<strong>800 / " in today  # p50 of 700, 800, 900 ms
    assert "<strong>$0.02</strong>" in today  # 8,000 tokens at $0.0025/1k
    assert "/admin/monitoring/activityrollup/" in today
    # The apps follow the figures.
    assert "/admin/conversations/conversation/" in html[html.index('id="aura-today"') :]


# --- Sign-in throttling ----------------------------------------------------------------------


def test_after_repeated_failures_even_the_right_password_is_refused(
    org_alpha: Organization, settings: Any
) -> None:
    settings.AURA_ADMIN_LOGIN_FAILURES_PER_ACCOUNT = "3/15 minutes"
    superuser(org_alpha.schema_name, "alice")
    superuser(org_alpha.schema_name, "bob")
    attacker = Client(HTTP_HOST="alpha.localhost", REMOTE_ADDR="10.2.0.1")

    failures = [sign_in(attacker, "alice", f"guess {n}") for n in range(3)]
    refused = sign_in(attacker, "alice", PASSWORD)
    elsewhere = sign_in(
        Client(HTTP_HOST="alpha.localhost", REMOTE_ADDR="10.2.0.2"), "alice", PASSWORD
    )

    assert [response.status_code for response in failures] == [200, 200, 200]
    assert "Please enter the correct username and password" in failures[0].content.decode()
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Too many failed sign-ins for this account or from this address." in (
        refused.content.decode()
    )
    assert "_auth_user_id" not in attacker.session
    # The account is throttled, from any address.
    assert elsewhere.status_code == 429
    # Another user is not affected.
    assert signed_in("alpha.localhost", "bob", address="10.2.0.3").get("/admin/").status_code == 200


def test_an_account_of_another_organization_with_the_same_name_is_not_affected(
    org_alpha: Organization, org_beta: Organization, settings: Any
) -> None:
    settings.AURA_ADMIN_LOGIN_FAILURES_PER_ACCOUNT = "2/15 minutes"
    superuser(org_alpha.schema_name, "admin")
    superuser(org_beta.schema_name, "admin")
    attacker = Client(HTTP_HOST="alpha.localhost", REMOTE_ADDR="10.3.0.1")
    for n in range(2):
        sign_in(attacker, "admin", f"guess {n}")

    assert sign_in(attacker, "admin", PASSWORD).status_code == 429
    assert (
        signed_in("beta.localhost", "admin", address="10.3.0.2").get("/admin/").status_code == 200
    )


def test_an_address_that_keeps_failing_is_refused_for_every_account(
    org_alpha: Organization, platform: Organization, settings: Any
) -> None:
    settings.AURA_ADMIN_LOGIN_FAILURES_PER_ACCOUNT = "100/15 minutes"
    settings.AURA_ADMIN_LOGIN_FAILURES_PER_ADDRESS = "3/15 minutes"
    superuser(org_alpha.schema_name, "alice")
    superuser(platform.schema_name, "operator")
    sprayer = Client(HTTP_HOST="alpha.localhost", REMOTE_ADDR="10.4.0.1")
    for name in ("root", "admin", "test"):
        assert sign_in(sprayer, name, "password").status_code == 200

    assert sign_in(sprayer, "alice", PASSWORD).status_code == 429
    # The address is counted across domains, the platform's included.
    sprayer.defaults["HTTP_HOST"] = "localhost"
    assert sign_in(sprayer, "operator", PASSWORD).status_code == 429
    # Alice from her own address is let in.
    assert (
        signed_in("alpha.localhost", "alice", address="10.4.0.2").get("/admin/").status_code == 200
    )
