"""What voice does when the tenants app announces a change (connected in VoiceConfig.ready)."""

from __future__ import annotations

from typing import Any

from tenants.signals import api_key_disabled, organization_deactivated, organization_schema_created
from voice.realtime.control import (
    realtime_sessions_end_for_key,
    realtime_sessions_end_for_organization,
)
from voice.services import agent_create

FIRST_AGENT_NAME = "Assistant"


def seed_first_agent(**kwargs: Any) -> None:
    """Every organization can talk from its first minute, on the embedded local models.

    Runs in the new schema, inside the transaction that builds it.
    """
    agent_create(name=FIRST_AGENT_NAME)


def end_sessions_of_organization(*, organization_id: int, status: str, **kwargs: Any) -> None:
    """Live sessions of an organization that is no longer active end (on every server)."""
    realtime_sessions_end_for_organization(
        organization_id=organization_id, reason=f"This organization is {status}."
    )


def end_sessions_of_key(*, key_id: int, reason: str, **kwargs: Any) -> None:
    """Live sessions opened with a key (or a client secret it minted) end (on every server)."""
    realtime_sessions_end_for_key(key_id=key_id, reason=reason)


def connect() -> None:
    organization_schema_created.connect(seed_first_agent, dispatch_uid="voice.first_agent")
    organization_deactivated.connect(
        end_sessions_of_organization, dispatch_uid="voice.end_sessions_of_organization"
    )
    api_key_disabled.connect(end_sessions_of_key, dispatch_uid="voice.end_sessions_of_key")
