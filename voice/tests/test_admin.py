"""The organization's admin edits an agent's vocabulary (voice/admin.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django_tenants.utils import schema_context

from conversations.tests.test_admin import staff_client
from voice.models import Agent

pytestmark = pytest.mark.django_db


def change_form_data(response: Any) -> dict[str, Any]:
    """What the change form would post back as it was shown."""
    form = response.context["adminform"].form
    data: dict[str, Any] = {"_save": "Save"}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = value
    return data


def test_an_agents_vocabulary_is_edited_and_checked_in_the_admin(org_alpha: Any) -> None:
    client = staff_client(org_alpha, "alice")
    with schema_context(org_alpha.schema_name):
        agent = Agent.objects.get(is_default=True)
    path = f"/admin/voice/agent/{agent.pk}/change/"
    shown = client.get(path)
    assert shown.status_code == 200
    data = change_form_data(shown)
    assert json.loads(data["vocabulary"]) == []

    saved = client.post(path, {**data, "vocabulary": json.dumps(["Quorvex", "ComfyUI"])})
    refused = client.post(path, {**data, "vocabulary": json.dumps(["x" * 65])})

    assert saved.status_code == 302, saved.content
    assert refused.status_code == 200
    assert "vocabulary term" in refused.content.decode()
    with schema_context(org_alpha.schema_name):
        assert Agent.objects.get(pk=agent.pk).vocabulary == ["Quorvex", "ComfyUI"]
