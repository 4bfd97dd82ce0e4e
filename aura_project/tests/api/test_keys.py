"""tenants/api.py, keys: issue (secret once), list, filter, revoke, rotate; no escalation."""

from __future__ import annotations

import logging

from aura_project.tests.api.conftest import Api, problem
from tenants.keys import hash_key
from tenants.models import ApiKey, ApiKeyEvent


def test_a_key_is_issued_once_and_works_and_only_its_hash_is_kept(alpha, caplog):
    caplog.set_level(logging.DEBUG)
    response = alpha.post("/api/v1/keys", {"name": "ci", "scopes": ["agents"]})
    assert response.status_code == 201
    issued = response.json()
    secret = issued["secret"]
    assert secret.startswith(issued["prefix"] + "_")
    stored = ApiKey.objects.get(pk=issued["id"])
    assert stored.secret_hash == hash_key(secret)
    assert stored.scopes == ["agents"]
    # The new key works, within its scopes.
    assert Api(secret).get("/api/v1/agents").status_code == 200
    problem(Api(secret).get("/api/v1/keys"), 403, "missing_scope")
    # Never shown again, never logged.
    listed = alpha.get("/api/v1/keys").content.decode()
    detail = alpha.get(f"/api/v1/keys/{issued['id']}").content.decode()
    assert secret not in listed
    assert secret not in detail
    assert "secret" not in alpha.get(f"/api/v1/keys/{issued['id']}").json()
    assert secret not in caplog.text
    assert ApiKeyEvent.objects.filter(api_key=stored, action="created").exists()


def test_a_key_cannot_grant_scopes_it_lacks(org_alpha, make_key):
    limited = Api(make_key(org_alpha, scopes=["keys", "agents"]))
    problem(limited.post("/api/v1/keys", {"scopes": ["admin"]}), 403, "scope_escalation")
    problem(limited.post("/api/v1/keys", {"scopes": ["staff"]}), 400, "invalid_request")
    # Without scopes, the standard ones it holds.
    issued = limited.post("/api/v1/keys", {}).json()
    assert issued["scopes"] == ["agents"]
    # Rotating a key hands out a key with its scopes: the same rule.
    admin_key = ApiKey.objects.get(prefix=make_key(org_alpha, scopes=["admin"])[:11])
    problem(limited.post(f"/api/v1/keys/{admin_key.pk}/rotate", {}), 403, "scope_escalation")
    admin_key.refresh_from_db()
    assert admin_key.replaced_by is None


def test_revoking_stops_the_key_at_once(alpha):
    issued = alpha.post("/api/v1/keys", {"scopes": ["agents"]}).json()
    response = alpha.post(f"/api/v1/keys/{issued['id']}/revoke")
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    problem(Api(issued["secret"]).get("/api/v1/agents"), 401, "invalid_api_key")
    assert ApiKeyEvent.objects.filter(key_prefix=issued["prefix"], action="revoked").exists()
    assert ApiKeyEvent.objects.get(key_prefix=issued["prefix"], action="revoked").actor.startswith(
        "api:sk_"
    )


def test_rotation_issues_a_successor_and_keeps_the_old_key_for_the_grace_period(alpha):
    old = alpha.post("/api/v1/keys", {"scopes": ["agents"], "name": "app"}).json()
    response = alpha.post(f"/api/v1/keys/{old['id']}/rotate", {"grace_seconds": 3600})
    assert response.status_code == 201
    new = response.json()
    assert new["secret"] != old["secret"]
    assert new["name"] == "app"
    assert new["scopes"] == ["agents"]
    assert Api(new["secret"]).get("/api/v1/agents").status_code == 200
    assert Api(old["secret"]).get("/api/v1/agents").status_code == 200  # still in its grace
    old_now = alpha.get(f"/api/v1/keys/{old['id']}").json()
    assert old_now["replaced_by"] == new["id"]
    assert old_now["expires_at"] is not None
    # Without grace, the old key stops at once.
    response = alpha.post(f"/api/v1/keys/{new['id']}/rotate", {"grace_seconds": 0})
    newest = response.json()
    problem(Api(new["secret"]).get("/api/v1/agents"), 401)
    assert Api(newest["secret"]).get("/api/v1/agents").status_code == 200
    # A revoked key cannot be rotated.
    alpha.post(f"/api/v1/keys/{newest['id']}/revoke")
    problem(alpha.post(f"/api/v1/keys/{newest['id']}/rotate", {}), 400)
    problem(alpha.post(f"/api/v1/keys/{old['id']}/rotate", {"grace_seconds": -1}), 400)


def test_keys_are_filtered_and_paginated(alpha):
    for index in range(3):
        alpha.post("/api/v1/keys", {"name": f"batch {index}", "scopes": ["agents"]})
    revoked = alpha.post("/api/v1/keys", {"name": "gone", "scopes": ["agents"]}).json()
    alpha.post(f"/api/v1/keys/{revoked['id']}/revoke")
    batch = alpha.get("/api/v1/keys", {"name": "batch", "limit": 2}).json()
    assert batch["count"] == 3
    assert len(batch["results"]) == 2
    assert [
        key["name"] for key in alpha.get("/api/v1/keys", {"revoked": "true"}).json()["results"]
    ] == ["gone"]
    assert "gone" not in {
        key["name"] for key in alpha.get("/api/v1/keys", {"revoked": "false"}).json()["results"]
    }
    problem(alpha.get("/api/v1/keys", {"kind": "xx"}), 400)


# Omitted, empty and explicit: a publishable key gets `realtime` whichever is sent.
SCOPE_CHOICES: tuple[dict[str, list[str]], ...] = ({}, {"scopes": []}, {"scopes": ["realtime"]})


def test_a_key_without_realtime_cannot_mint_a_publishable_key_whatever_scopes_it_sends(
    org_alpha, make_key
):
    keys_only = Api(make_key(org_alpha, scopes=["keys"]))
    publishable = {"kind": "pk", "allowed_origins": ["https://shop.example"]}
    for scopes in SCOPE_CHOICES:
        problem(keys_only.post("/api/v1/keys", {**publishable, **scopes}), 403, "scope_escalation")
    # An empty list is no way around the defaults for secret keys either.
    assert keys_only.post("/api/v1/keys", {"scopes": []}).json()["scopes"] == []
    assert not ApiKey.objects.filter(organization=org_alpha, kind="pk").exists()


def test_a_publishable_key_holds_realtime_only_and_asking_for_more_is_refused(org_alpha, make_key):
    voice = Api(make_key(org_alpha, scopes=["keys", "realtime", "agents"]))
    publishable = {"kind": "pk", "allowed_origins": ["https://shop.example"]}
    problem(voice.post("/api/v1/keys", {**publishable, "scopes": ["agents"]}), 400)
    for scopes in SCOPE_CHOICES:
        issued = voice.post("/api/v1/keys", {**publishable, **scopes})
        assert issued.status_code == 201, issued.content
        assert issued.json()["scopes"] == ["realtime"]


def test_a_publishable_key_is_limited_to_the_agents_it_names_and_keeps_them_on_rotation(alpha):
    issued = alpha.post(
        "/api/v1/keys",
        {"kind": "pk", "allowed_origins": ["https://shop.example"], "allowed_agents": ["Support"]},
    ).json()
    assert issued["allowed_agents"] == ["Support"]
    successor = alpha.post(f"/api/v1/keys/{issued['id']}/rotate", {}).json()
    assert successor["allowed_agents"] == ["Support"]
    default_only = alpha.post(
        "/api/v1/keys", {"kind": "pk", "allowed_origins": ["https://shop.example"]}
    ).json()
    assert default_only["allowed_agents"] == []
    # A secret key may use every agent: limiting one would only look safe.
    problem(alpha.post("/api/v1/keys", {"allowed_agents": ["Support"]}), 400)
