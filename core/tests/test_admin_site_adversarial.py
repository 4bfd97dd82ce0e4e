"""Every admin page that takes an id, tried by beta's tenant admin on other organizations' rows.

core/admin_site.py decides which pages a site shows: an organization's domain shows its
schema's models and its own rows of shared tables, the platform's domains the platform's
models. Beta's superuser logs in for real on beta's domain and asks for the change, delete and
history pages of every registered model (the registry is read at run time: a model registered
tomorrow is attacked tomorrow), posts saves, deletions and bulk actions, with ids that exist
only in alpha's schema, on alpha's rows of shared tables, or on the platform's. Every answer is
a 302 (to the index or the login), 403 or 404 that shows nothing of them, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from aura_project.tests.attacks import attack
from core.admin_site import tenant_admin_site
from tenants.models import ApiKeyEvent, Organization
from tenants.services import api_key_create, platform_ensure_public_tenant

pytestmark = [pytest.mark.adversarial, pytest.mark.django_db]

# Far above any id a test's own rows reach in beta's schema: alpha's row with this id can only
# be seen from beta's site through a leak, never by coincidence.
ALPHA_PK = 987_654
MARKER = "alpha-only-marker"
PASSWORD = "correct horse battery staple"
# Every model on either admin site: the platform's (admin.site) and the organizations' own.
REGISTERED = sorted(
    {*admin.site._registry, *tenant_admin_site._registry}, key=lambda m: m._meta.label
)


@pytest.fixture
def platform(db: None) -> Organization:
    return platform_ensure_public_tenant(domains=("localhost",))


def _in_alpha(org_alpha: Organization, create: Callable[[], Model]) -> list[tuple[str, Any]]:
    with schema_context(org_alpha.schema_name):
        return [(org_alpha.schema_name, create().pk)]


def _in_public(create: Callable[[], Model]) -> list[tuple[str, Any]]:
    with schema_context(get_public_schema_name()):
        return [(get_public_schema_name(), create().pk)]


def _targets(label: str, org_alpha: Organization, platform: Organization) -> list[tuple[str, Any]]:
    """(schema, pk) of rows beta's admin must not reach, for one registered model."""
    from conversations.models import Conversation
    from monitoring.models import ActivityRollup, UsageRecord, UsageRollup
    from voice.models import Agent, WebhookTool

    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    alpha_key = api_key_create(organization=org_alpha, name=MARKER).api_key
    tenant_rows: dict[str, Callable[[], Model]] = {
        "voice.Agent": lambda: Agent.objects.create(pk=ALPHA_PK, name=MARKER),
        "voice.WebhookTool": lambda: WebhookTool.objects.create(
            pk=ALPHA_PK, name="alpha_only_tool", url="https://alpha.example/hook"
        ),
        "conversations.Conversation": lambda: Conversation.objects.create(end_user_id=MARKER),
        "monitoring.UsageRecord": lambda: UsageRecord.objects.create(
            pk=ALPHA_PK, stage="llm", provider="openai", model=MARKER
        ),
        "monitoring.UsageRollup": lambda: UsageRollup.objects.create(
            pk=ALPHA_PK,
            period="hour",
            period_start=now,
            stage="llm",
            provider="openai",
            model=MARKER,
            outcome="answered",
        ),
        "monitoring.ActivityRollup": lambda: ActivityRollup.objects.create(
            pk=ALPHA_PK, period="hour", period_start=now - timedelta(days=400)
        ),
        "auth.Group": lambda: Group.objects.create(pk=ALPHA_PK, name=MARKER),
    }
    if label in tenant_rows:
        return _in_alpha(org_alpha, tenant_rows[label])
    if label == "auth.User":
        # Users live in each schema: alpha's admin, and the platform operator's.
        def user() -> Model:
            return get_user_model().objects.create_superuser(
                MARKER, f"{MARKER}@example.com", PASSWORD, pk=ALPHA_PK
            )

        return _in_alpha(org_alpha, user) + _in_public(user)
    if label == "tenants.ApiKey":
        return [(get_public_schema_name(), alpha_key.pk)]
    if label == "tenants.ApiKeyEvent":
        return [
            (get_public_schema_name(), pk)
            for pk in ApiKeyEvent.objects.filter(api_key=alpha_key).values_list("pk", flat=True)
        ]
    if label == "tenants.Organization":
        return [(get_public_schema_name(), org_alpha.pk), (get_public_schema_name(), platform.pk)]
    if label.startswith("django_celery_beat."):
        return _in_public(lambda: _beat_row(label))
    raise AssertionError(f"{label} is registered on the admin: give the attack a row of it")


def _beat_row(label: str) -> Model:
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )

    # django-celery-beat is untyped: its rows are declared the models they are.
    row: Model
    every = IntervalSchedule.objects.create(every=ALPHA_PK, period="seconds")
    if label == "django_celery_beat.IntervalSchedule":
        row = every
    elif label == "django_celery_beat.PeriodicTask":
        row = PeriodicTask.objects.create(
            name=MARKER, task="conversations.end_stale_everywhere", interval=every
        )
    elif label == "django_celery_beat.CrontabSchedule":
        row = CrontabSchedule.objects.create(minute="17", hour="3")
    elif label == "django_celery_beat.SolarSchedule":
        row = SolarSchedule.objects.create(event="sunrise", latitude=1, longitude=2)
    else:
        row = ClockedSchedule.objects.create(clocked_time=timezone.now() + timedelta(days=1))
    return row


def _registered() -> list[Any]:
    return sorted(model._meta.label for model in REGISTERED)


def _snapshot(org_alpha: Organization) -> dict[str, Any]:
    """Every row of every registered model, as alpha's schema and the public schema hold them."""
    rows: dict[str, Any] = {}
    for model in REGISTERED:
        for schema in (org_alpha.schema_name, get_public_schema_name()):
            with schema_context(schema):
                tables = connection.introspection.table_names()
                rows[f"{schema}:{model._meta.label}"] = (
                    list(model._default_manager.order_by("pk").values())
                    if model._meta.db_table in tables
                    else None
                )
    return rows


def logged_in_tenant_admin(organization: Organization, username: str) -> Client:
    """A superuser of `organization`, logged in through the login form of its own domain."""
    with schema_context(organization.schema_name):
        get_user_model().objects.create_superuser(username, f"{username}@example.com", PASSWORD)
    client = Client(HTTP_HOST=f"{organization.slug}.localhost")
    login = client.post("/admin/login/?next=/admin/", {"username": username, "password": PASSWORD})
    assert login.status_code == 302, login.content
    assert login["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    return client


def _attempts(app_label: str, model_name: str, pk: Any) -> list[tuple[str, str, dict[str, Any]]]:
    base = f"/admin/{app_label}/{model_name}/"
    return [
        ("get", f"{base}{pk}/change/", {}),
        ("post", f"{base}{pk}/change/", {"name": "hijacked", "_save": "Save"}),
        ("get", f"{base}{pk}/delete/", {}),
        ("post", f"{base}{pk}/delete/", {"post": "yes"}),
        ("get", f"{base}{pk}/history/", {}),
        (
            "post",
            base,
            {"action": "delete_selected", "_selected_action": [str(pk)], "index": 0, "post": "yes"},
        ),
        ("post", base, {"action": "revoke", "_selected_action": [str(pk)], "index": 0}),
    ]


def _refused(response: Any, path: str, *, bulk: bool) -> bool:
    if response.status_code in (403, 404):
        return True
    if bulk:
        # A bulk action on rows the changelist does not hold: beta's own list again (or back
        # to it); the snapshot and the marker prove that nothing of alpha was touched.
        return response.status_code in (200, 302)
    # Back to the index (no such object here) or to the login; never the object itself.
    location: str = response["Location"]
    return response.status_code == 302 and location != path


@pytest.mark.parametrize("label", _registered())
def test_a_tenant_admin_reaches_no_row_of_another_organization_or_the_platform(
    label: str, org_alpha: Organization, org_beta: Organization, platform: Organization
) -> None:
    beta = logged_in_tenant_admin(org_beta, "beta-admin")
    model = apps.get_model(label)
    targets = _targets(label, org_alpha, platform)
    assert targets, label
    before = _snapshot(org_alpha)
    tried = 0
    for _schema, pk in targets:
        for method, path, data in _attempts(model._meta.app_label, model._meta.model_name, pk):
            response = getattr(beta, method)(path, data)
            tried += 1
            bulk = path.endswith(f"/{model._meta.model_name}/")
            refused = _refused(response, path, bulk=bulk)
            assert refused, (label, method, path, response.status_code)
            assert MARKER not in response.content.decode(errors="replace"), (label, method, path)
    attack("admin", tried)
    assert _snapshot(org_alpha) == before


def test_a_tenant_admins_session_opens_no_other_admin_site(org_alpha, org_beta, platform):
    beta = logged_in_tenant_admin(org_beta, "beta-admin")
    tried = 0
    for host in ("alpha.localhost", "localhost"):
        beta.defaults["HTTP_HOST"] = host
        for path in [
            "/admin/",
            *(f"/admin/{m._meta.app_label}/{m._meta.model_name}/" for m in REGISTERED),
        ]:
            response = beta.get(path)
            tried += 1
            assert response.status_code == 302, (host, path, response.status_code)
            assert response["Location"].startswith("/admin/login/"), (host, path)
    attack("admin", tried)


def test_another_organizations_admin_cannot_log_in_on_beta(org_alpha, org_beta, platform):
    """Credentials are per schema: alpha's admin and the platform's are strangers on beta."""
    for schema in (org_alpha.schema_name, get_public_schema_name()):
        with schema_context(schema):
            get_user_model().objects.create_superuser("stranger", "s@example.com", PASSWORD)
    client = Client(HTTP_HOST="beta.localhost")
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "stranger", "password": PASSWORD}
    )
    attack("admin")
    assert response.status_code == 200  # the form again, with its error
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302
