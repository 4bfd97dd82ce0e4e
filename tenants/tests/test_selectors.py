import pytest

from tenants.errors import AuthenticationError, OrganizationSuspendedError, PermissionDeniedError
from tenants.selectors import resolve_api_key
from tenants.services import (
    api_key_create,
    organization_set_status,
    platform_ensure_public_tenant,
)


@pytest.mark.parametrize(
    "hostile",
    [
        "",
        "nonsense",
        "sk_" + "A" * 8 + "_wrongsecret",
        "sk_abcdefgh_" + "x" * 5000,
        "\x00",
        "pk_%%%%%%%%_x",
    ],
)
def test_unknown_or_malformed_keys_get_one_vague_answer(org_alpha, hostile):
    with pytest.raises(AuthenticationError) as caught:
        resolve_api_key(hostile)
    assert caught.value.message == "Invalid API key."
    assert caught.value.code == "invalid_api_key"


def test_a_key_with_a_known_prefix_but_wrong_secret_is_refused(org_alpha):
    issued = api_key_create(organization=org_alpha)
    forged = issued.api_key.prefix + "_" + "A" * 43
    with pytest.raises(AuthenticationError, match=r"Invalid API key\."):
        resolve_api_key(forged)


def test_a_suspended_organization_is_refused(org_alpha):
    issued = api_key_create(organization=org_alpha)
    organization_set_status(organization=org_alpha, status="suspended")
    with pytest.raises(OrganizationSuspendedError):
        resolve_api_key(issued.plaintext)


def test_a_scope_the_key_lacks_is_refused(org_alpha):
    issued = api_key_create(organization=org_alpha, scopes=["realtime"])
    assert resolve_api_key(issued.plaintext, required_scope="realtime").scopes == ("realtime",)
    with pytest.raises(PermissionDeniedError, match="agents"):
        resolve_api_key(issued.plaintext, required_scope="agents")


def test_a_platform_key_opens_nothing_of_an_organization_whatever_its_scopes(db):
    # A voice session or a client secret of the platform would run in the public schema.
    platform = platform_ensure_public_tenant(domains=("localhost",))
    issued = api_key_create(organization=platform, scopes=["staff", "realtime"])
    assert resolve_api_key(issued.plaintext, required_scope="staff").tenant.schema_name == "public"
    with pytest.raises(PermissionDeniedError) as refused:
        resolve_api_key(issued.plaintext, required_scope="realtime")
    assert refused.value.code == "organization_key_required"


def test_a_publishable_key_works_only_from_its_origins(org_alpha):
    issued = api_key_create(
        organization=org_alpha, kind="pk", allowed_origins=["https://shop.example"]
    )
    assert resolve_api_key(issued.plaintext, origin="https://shop.example").tenant.slug == "alpha"
    assert resolve_api_key(issued.plaintext, origin="HTTPS://SHOP.EXAMPLE").kind == "pk"
    for origin in (None, "https://evil.example", "https://shop.example.evil.example", "null"):
        with pytest.raises(PermissionDeniedError, match="origin"):
            resolve_api_key(issued.plaintext, origin=origin)


def test_using_a_key_records_when_it_was_last_used(org_alpha):
    issued = api_key_create(organization=org_alpha)
    assert issued.api_key.last_used_at is None
    resolve_api_key(issued.plaintext)
    issued.api_key.refresh_from_db()
    assert issued.api_key.last_used_at is not None
