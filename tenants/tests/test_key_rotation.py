"""The key lifecycle task: auto-rotation by age, disabling of expired keys, the audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from tenants.errors import AuthenticationError
from tenants.models import ApiKey, ApiKeyEvent
from tenants.selectors import resolve_api_key
from tenants.services import api_key_create, api_key_revoke, api_key_rotate
from tenants.tasks import rotate_api_keys

pytestmark = pytest.mark.django_db


def events_of(api_key: ApiKey) -> list[tuple[str, str]]:
    return [
        (event.action, event.actor)
        for event in ApiKeyEvent.objects.filter(key_prefix=api_key.prefix).order_by("id")
    ]


def aged(api_key: ApiKey, days: int) -> None:
    ApiKey.objects.filter(pk=api_key.pk).update(created_at=timezone.now() - timedelta(days=days))


def test_the_task_is_on_the_beat_schedule() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["rotate-api-keys"]
    assert entry["task"] == rotate_api_keys.name


def test_auto_rotate_keys_past_their_age_are_rotated_with_a_grace_period(
    org_alpha: Any, settings: Any
) -> None:
    settings.AURA_KEY_AUTO_ROTATE_AFTER_DAYS = 30
    settings.AURA_KEY_ROTATION_GRACE_SECONDS = 3600
    old = api_key_create(organization=org_alpha, name="ci", auto_rotate=True)
    young = api_key_create(organization=org_alpha, auto_rotate=True)
    manual = api_key_create(organization=org_alpha)
    aged(old.api_key, 31)
    aged(young.api_key, 29)
    aged(manual.api_key, 400)

    result = rotate_api_keys()

    assert result == {"rotated": [old.api_key.prefix], "expired": []}
    old.api_key.refresh_from_db()
    successor = old.api_key.replaced_by
    assert successor is not None
    assert (successor.name, successor.auto_rotate) == ("ci", True)
    assert old.api_key.expires_at is not None
    assert old.api_key.expires_at - timezone.now() == pytest.approx(
        timedelta(hours=1), abs=timedelta(seconds=30)
    )
    # The old secret still works during the grace period.
    assert resolve_api_key(old.plaintext).key_id == old.api_key.pk
    assert events_of(old.api_key)[-1] == ("rotated", "system:auto-rotate")
    event = ApiKeyEvent.objects.get(key_prefix=old.api_key.prefix, action="rotated")
    assert event.detail["successor"] == successor.prefix
    assert events_of(successor) == [("created", "system:auto-rotate")]
    # Once rotated, a key is not rotated again by the next run.
    assert rotate_api_keys() == {"rotated": [], "expired": []}
    young.api_key.refresh_from_db()
    manual.api_key.refresh_from_db()
    assert young.api_key.replaced_by is None
    assert manual.api_key.replaced_by is None


def test_expired_keys_are_disabled_and_logged(org_alpha: Any) -> None:
    lapsed = api_key_create(
        organization=org_alpha, expires_at=timezone.now() - timedelta(minutes=1)
    )
    rotated = api_key_create(organization=org_alpha)
    api_key_rotate(api_key=rotated.api_key, grace_seconds=0, actor="api:sk_test")
    live = api_key_create(organization=org_alpha, expires_at=timezone.now() + timedelta(days=1))

    result = rotate_api_keys()

    assert sorted(result["expired"]) == sorted([lapsed.api_key.prefix, rotated.api_key.prefix])
    for issued in (lapsed, rotated):
        issued.api_key.refresh_from_db()
        assert issued.api_key.revoked_at is not None
        assert events_of(issued.api_key)[-1] == ("expired", "system:expiry")
        with pytest.raises(AuthenticationError):
            resolve_api_key(issued.plaintext)
    live.api_key.refresh_from_db()
    assert live.api_key.revoked_at is None
    assert ("rotated", "api:sk_test") in events_of(rotated.api_key)


def test_every_lifecycle_event_is_audited_without_secrets(org_alpha: Any) -> None:
    issued = api_key_create(organization=org_alpha, actor="admin:ops")
    api_key_revoke(api_key=issued.api_key, actor="admin:ops")
    api_key_revoke(api_key=issued.api_key, actor="admin:ops")  # already revoked: no new event

    assert events_of(issued.api_key) == [("created", "admin:ops"), ("revoked", "admin:ops")]
    for event in ApiKeyEvent.objects.filter(key_prefix=issued.api_key.prefix):
        assert issued.plaintext not in str(event.detail)
        assert issued.api_key.secret_hash not in str(event.detail)
        assert event.organization_id == org_alpha.pk
