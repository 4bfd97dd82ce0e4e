from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from core.errors import InvalidRequestError
from tenants.errors import AuthenticationError, OrganizationExistsError
from tenants.models import ApiKey, Organization
from tenants.selectors import resolve_api_key
from tenants.services import (
    api_key_create,
    api_key_revoke,
    api_key_rotate,
    organization_create,
    organization_set_status,
)


def schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [name])
        return cursor.fetchone() is not None


def test_creating_an_organization_provisions_its_schema_and_domain(db):
    organization = organization_create(slug="gamma-co", name="Gamma Co")
    assert organization.schema_name == "org_gamma_co"
    assert schema_exists("org_gamma_co")
    domain = organization.get_primary_domain()
    assert domain is not None
    assert domain.domain == "gamma-co.localhost"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.tables "
            "WHERE table_schema = 'org_gamma_co' AND table_name = 'conversations_conversation'"
        )
        assert cursor.fetchone() is not None


@pytest.mark.parametrize(
    "slug",
    ["", "a", "Upper", "1abc", "has space", "public", "-lead", "x" * 60, "semi;colon", "dot.ted"],
)
def test_an_unusable_slug_is_refused_before_anything_is_created(db, slug):
    if slug == "public":
        # "public" is a valid slug; it cannot collide because schemas carry the org_ prefix.
        organization = organization_create(slug=slug, name="Public Co")
        assert organization.schema_name == "org_public"
        return
    with pytest.raises(InvalidRequestError, match="slug"):
        organization_create(slug=slug, name="Nope")
    assert not Organization.objects.filter(name="Nope").exists()


def test_a_taken_slug_or_domain_is_refused(org_alpha):
    with pytest.raises(OrganizationExistsError):
        organization_create(slug="alpha", name="Again")
    with pytest.raises(OrganizationExistsError, match="domain"):
        organization_create(slug="other", name="Other", domain="alpha.localhost")


def test_no_plaintext_key_is_stored_anywhere_in_the_table(org_alpha):
    issued = api_key_create(organization=org_alpha, name="server")
    secret_part = issued.plaintext.split("_", 2)[2]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM public.tenants_apikey")
        rows = cursor.fetchall()
    flattened = " ".join(str(value) for row in rows for value in row)
    assert issued.api_key.prefix in flattened
    assert issued.plaintext not in flattened
    assert secret_part not in flattened


def test_a_revoked_key_is_refused(org_alpha):
    issued = api_key_create(organization=org_alpha)
    assert resolve_api_key(issued.plaintext).tenant.slug == "alpha"
    api_key_revoke(api_key=issued.api_key)
    with pytest.raises(AuthenticationError):
        resolve_api_key(issued.plaintext)


def test_an_expired_key_is_refused(org_alpha):
    issued = api_key_create(
        organization=org_alpha, expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(AuthenticationError):
        resolve_api_key(issued.plaintext)


def test_after_rotation_the_old_key_works_only_inside_the_grace_period(org_alpha):
    old = api_key_create(organization=org_alpha, name="rotating", scopes=["realtime", "agents"])
    new = api_key_rotate(api_key=old.api_key, grace_seconds=3600)

    assert new.plaintext != old.plaintext
    assert new.api_key.scopes == ["agents", "realtime"]
    assert resolve_api_key(old.plaintext).key_id == old.api_key.pk
    assert resolve_api_key(new.plaintext).key_id == new.api_key.pk

    old.api_key.refresh_from_db()
    assert old.api_key.replaced_by_id == new.api_key.pk
    # Once the grace period is over, only the successor works.
    ApiKey.objects.filter(pk=old.api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(AuthenticationError):
        resolve_api_key(old.plaintext)
    assert resolve_api_key(new.plaintext).tenant.slug == "alpha"


def test_rotation_with_no_grace_retires_the_old_key_at_once(org_alpha):
    old = api_key_create(organization=org_alpha)
    api_key_rotate(api_key=old.api_key, grace_seconds=0)
    with pytest.raises(AuthenticationError):
        resolve_api_key(old.plaintext)


def test_a_revoked_key_cannot_be_rotated(org_alpha):
    issued = api_key_create(organization=org_alpha)
    api_key_revoke(api_key=issued.api_key)
    with pytest.raises(InvalidRequestError):
        api_key_rotate(api_key=issued.api_key)


def test_a_publishable_key_needs_origins_and_may_only_open_voice_sessions(org_alpha):
    with pytest.raises(InvalidRequestError, match="origin"):
        api_key_create(organization=org_alpha, kind="pk")
    issued = api_key_create(
        organization=org_alpha,
        kind="pk",
        scopes=["admin"],
        allowed_origins=["https://Shop.example"],
    )
    assert issued.plaintext.startswith("pk_")
    assert issued.api_key.scopes == ["realtime"]
    assert issued.api_key.allowed_origins == ["https://shop.example"]


@pytest.mark.parametrize(
    "origin", ["shop.example", "https://shop.example/path", "javascript:alert(1)", ""]
)
def test_malformed_origins_are_refused(org_alpha, origin):
    with pytest.raises(InvalidRequestError, match="origin"):
        api_key_create(organization=org_alpha, kind="pk", allowed_origins=[origin])


def test_unknown_scopes_are_refused(org_alpha):
    with pytest.raises(InvalidRequestError, match="unknown scopes: root"):
        api_key_create(organization=org_alpha, scopes=["realtime", "root"])


def test_suspending_an_organization_changes_its_status(org_alpha):
    organization_set_status(organization=org_alpha, status="suspended")
    org_alpha.refresh_from_db()
    assert not org_alpha.is_active
    with pytest.raises(InvalidRequestError):
        organization_set_status(organization=org_alpha, status="deleted")
