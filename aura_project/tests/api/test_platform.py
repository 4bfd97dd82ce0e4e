"""tenants/api.py, platform: organizations created through a real Celery worker, listed,
suspended and resumed, by staff keys of the platform only."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from aura_project.tests.api.conftest import Api, problem
from tenants.models import Organization
from tenants.services import organization_provision, organization_register
from voice.models import Agent


def _wait_for_status(slug: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = Organization.objects.get(slug=slug).status
        if status != Organization.Status.PROVISIONING:
            return status
        time.sleep(0.2)
    raise TimeoutError(f"{slug} still provisioning after {timeout_s} s")


@pytest.mark.django_db(transaction=True)
def test_an_organization_is_provisioned_by_a_celery_worker(
    celery_worker_process, platform, make_key
):
    staff = Api(make_key(platform, scopes=["staff"]))
    response = staff.post(
        "/api/v1/platform/organizations", {"slug": "gamma-co", "name": "Gamma", "plan": "pro"}
    )
    assert response.status_code == 202, response.content
    created = response.json()
    assert created["status"] == "provisioning"
    assert created["domains"] == ["gamma-co.localhost"]
    try:
        assert _wait_for_status("gamma-co") == "active"
        assert staff.get(f"/api/v1/platform/organizations/{created['id']}").json()["status"] == (
            "active"
        )
        gamma = Organization.objects.get(slug="gamma-co")
        with schema_context(gamma.schema_name):
            assert list(Agent.objects.values_list("name", flat=True)) == ["Assistant"]
        # The new organization works through the API at once.
        key = make_key(gamma)
        assert Api(key).get("/api/v1/agents").json()["results"][0]["name"] == "Assistant"
    finally:
        created_gamma = Organization.objects.filter(slug="gamma-co").first()
        if created_gamma is not None:
            created_gamma.delete(force_drop=True)


def test_a_provisioning_organization_cannot_be_used_yet(db, platform, make_key):
    organization = organization_register(slug="delta-co", name="Delta")  # no worker: stays
    assert organization.status == "provisioning"
    problem(Api(make_key(organization)).get("/api/v1/agents"), 403)


def test_duplicate_and_invalid_organizations_are_refused(org_alpha, staff):
    problem(staff.post("/api/v1/platform/organizations", {"slug": "alpha", "name": "A"}), 400)
    problem(
        staff.post(
            "/api/v1/platform/organizations",
            {"slug": "epsilon", "name": "E", "domain": "alpha.localhost"},
        ),
        400,
    )
    problem(staff.post("/api/v1/platform/organizations", {"slug": "No Caps", "name": "x"}), 400)
    problem(
        staff.post(
            "/api/v1/platform/organizations",
            {"slug": "zeta-co", "name": "Z", "domain": "bad domain!"},
        ),
        400,
    )
    assert not Organization.objects.filter(slug__in=["epsilon", "zeta-co"]).exists()


def test_staff_lists_filters_suspends_and_resumes(org_alpha, org_beta, staff, alpha):
    listed = staff.get("/api/v1/platform/organizations").json()
    assert {"alpha", "beta"} <= {org["slug"] for org in listed["results"]}
    assert "platform" not in {org["slug"] for org in listed["results"]}
    suspended = staff.post(f"/api/v1/platform/organizations/{org_alpha.pk}/suspend")
    assert suspended.json()["status"] == "suspended"
    problem(alpha.get("/api/v1/agents"), 403, "organization_suspended")
    only = staff.get("/api/v1/platform/organizations", {"status": "suspended"}).json()
    assert [org["slug"] for org in only["results"]] == ["alpha"]
    assert staff.post(f"/api/v1/platform/organizations/{org_alpha.pk}/resume").status_code == 200
    assert alpha.get("/api/v1/agents").status_code == 200
    problem(staff.post("/api/v1/platform/organizations/999999/suspend"), 404)


def test_a_tenant_key_even_with_every_scope_is_not_staff(alpha):
    problem(alpha.post("/api/v1/platform/organizations", {"slug": "evil", "name": "E"}), 403)
    assert not Organization.objects.filter(slug="evil").exists()


def test_a_failed_provisioning_is_marked_failed_and_logged(db, platform, staff, caplog):
    organization = organization_register(slug="broken-co", name="Broken")
    # A real failure: the schema exists already with a table in the migrations' way.
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA org_broken_co")
        cursor.execute("CREATE TABLE org_broken_co.voice_agent (nonsense integer)")
    with caplog.at_level(logging.ERROR):
        assert organization_provision(organization_id=organization.pk).status == "failed"
    assert "provisioning failed" in caplog.text
    shown = staff.get(f"/api/v1/platform/organizations/{organization.pk}").json()
    assert shown["status"] == "failed"
    # A redelivered task leaves it as it is; a failed organization cannot be resumed.
    assert organization_provision(organization_id=organization.pk).status == "failed"
    problem(staff.post(f"/api/v1/platform/organizations/{organization.pk}/resume"), 400)
    # Once the cause is gone, staff provision it again.
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA org_broken_co CASCADE")
    retried = staff.post(f"/api/v1/platform/organizations/{organization.pk}/retry")
    assert retried.status_code == 202
    assert retried.json()["status"] == "provisioning"
    # (In this test's transaction the queued task never runs: provision as the worker would.)
    assert organization_provision(organization_id=organization.pk).status == "active"
    problem(staff.post(f"/api/v1/platform/organizations/{organization.pk}/retry"), 400)


# --- Inviting an organization's admin ------------------------------------------------------------


def test_staff_invite_an_organizations_admin_who_sets_a_password_on_its_domain(org_alpha, staff):
    response = staff.post(
        f"/api/v1/platform/organizations/{org_alpha.pk}/admins", {"email": "Boss@Alpha.example"}
    )

    assert response.status_code == 201, response.content
    invite = response.json()
    assert (invite["username"], invite["email"], invite["created"]) == (
        "boss@alpha.example",
        "boss@alpha.example",
        True,
    )
    link = urlsplit(invite["set_password_url"])
    assert (link.scheme, link.hostname) == ("https", "alpha.localhost")
    assert link.path.startswith("/admin/set-password/")
    with schema_context(org_alpha.schema_name):
        assert User.objects.get(username="boss@alpha.example").is_superuser
    assert not User.objects.filter(username="boss@alpha.example").exists()  # not the platform's

    browser = Client(HTTP_HOST="alpha.localhost")
    form = browser.get(link.path, follow=True)
    done = browser.post(
        form.redirect_chain[-1][0],
        {"new_password1": "pass phrase 9x", "new_password2": "pass phrase 9x"},
    )
    assert done.status_code == 302
    signed_in = Client(HTTP_HOST="alpha.localhost").post(
        "/admin/login/", {"username": "boss@alpha.example", "password": "pass phrase 9x"}
    )
    assert signed_in.status_code == 302


def test_only_staff_invite_admins_and_only_of_an_organization_that_is_built(
    org_alpha, platform, staff, alpha, make_key
):
    path = f"/api/v1/platform/organizations/{org_alpha.pk}/admins"
    body = {"email": "boss@alpha.example"}

    problem(alpha.post(path, body), 403, "missing_scope")  # an organization's own key
    problem(staff.post(f"/api/v1/platform/organizations/{platform.pk}/admins", body), 404)
    problem(staff.post(path, {"email": "not an email"}), 400)
    provisioning = organization_register(slug="iota-co", name="Iota")
    problem(
        staff.post(f"/api/v1/platform/organizations/{provisioning.pk}/admins", body),
        400,
        "invalid_status",
    )
