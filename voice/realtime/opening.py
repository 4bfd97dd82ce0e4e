"""What a realtime session is opened with: its agent, conversation, tools and resumed state."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings

from conversations.services import conversation_start
from monitoring.budget import BudgetStatus
from tenants.db import in_schema
from voice.engine.config import AgentConfig
from voice.engine.pipeline.tools import BUILTINS
from voice.realtime.auth import RealtimeCredentials, session_agent
from voice.realtime.limits import SessionSlot, slot_caps
from voice.realtime.resume import Snapshot, resume_token_consume, snapshot_load
from voice.realtime.session_config import apply_session_update
from voice.selectors import agent_config, webhook_definitions
from voice.webhooks import WebhookExecutor


async def webhook_executor(schema_name: str, config: AgentConfig) -> WebhookExecutor:
    """The executor of the agent's webhook tools (server tools that are not built in)."""
    names = [t.name for t in config.tools if t.kind == "server" and t.name not in BUILTINS]
    definitions = await in_schema(schema_name, webhook_definitions, names) if names else []
    return WebhookExecutor(
        definitions,
        allowed_hosts=settings.AURA_WEBHOOK_ALLOWED_HOSTS,
        allow_http=settings.AURA_TENANT_URLS_ALLOW_HTTP,
    )


async def session_agent_config(credentials: RealtimeCredentials, agent: str | None) -> AgentConfig:
    """The named (or default) agent's configuration, with the credential's session defaults."""

    def load() -> AgentConfig:
        return agent_config(session_agent(credentials, agent))

    config = await in_schema(credentials.tenant.schema_name, load)
    if credentials.session_defaults:
        config = apply_session_update(config, credentials.session_defaults)
    return config


async def conversation_open(
    credentials: RealtimeCredentials, agent: str | None, *, end_user_id: str, session_id: str
) -> str:
    """A new conversation with the session's agent; its id."""

    def start() -> str:
        conversation = conversation_start(
            end_user_id=end_user_id,
            agent_id=session_agent(credentials, agent).pk,
            session_id=session_id,
        )
        return str(conversation.pk)

    return await in_schema(credentials.tenant.schema_name, start)


async def resumed_session(token: str, credentials: RealtimeCredentials) -> Snapshot:
    """The snapshot a resume token leads to (the token used up); raises `resume_failed`."""
    schema_name = credentials.tenant.schema_name
    session_id = await resume_token_consume(
        token, schema_name=schema_name, key_id=credentials.key_id
    )
    return await snapshot_load(session_id, schema_name=schema_name)


def session_slot(
    credentials: RealtimeCredentials, session_id: str, socket_id: str, address: str, plan_cap: int
) -> SessionSlot:
    """What this socket will hold of its organization's, key's and address's caps."""
    key_cap, address_cap = slot_caps(plan_cap=plan_cap, kind=credentials.kind)
    return SessionSlot(
        schema_name=credentials.tenant.schema_name,
        session_id=session_id,
        socket_id=socket_id,
        key_id=credentials.key_id,
        address=address,
        organization_cap=plan_cap,
        key_cap=key_cap,
        address_cap=address_cap,
    )


def budget_warning_event(budget: BudgetStatus) -> dict[str, Any]:
    """AURA extension: the organization is past its budget's warning threshold."""
    return {
        "type": "aura.budget.warning",
        "budget_usd": str(budget.budget_usd),
        "spent_usd": str(budget.spent_usd.quantize(Decimal("0.000001"))),
        "used_percent": round(budget.used_percent or 0.0, 1),
    }
