"""Writes of the voice app; callers run them inside the organization's schema."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction

from core.encryption import encrypt
from voice.agent_config import public_overrides_from_json, vocabulary_from_json
from voice.engine.errors import InvalidRequestError
from voice.engine.pipeline.tool_schema import check_tool_schema
from voice.engine.pipeline.tools import BUILTINS
from voice.models import Agent, ProviderCredential, WebhookTool
from voice.selectors import agent_config
from voice.webhooks import check_webhook_url

AGENT_FIELDS = (
    "instructions",
    "voice",
    "language",
    "vocabulary",
    "stt_routes",
    "llm_routes",
    "tts_routes",
    "turn_detection",
    "builtin_tools",
    "max_output_tokens",
    "memory_enabled",
    "public_overrides",
    "speculation",
    "is_default",
)


def _validate(agent: Agent) -> None:
    """Refuse what a session would refuse; store the vocabulary trimmed, without duplicates."""
    agent.vocabulary = list(vocabulary_from_json(agent.vocabulary))
    if not agent.name or len(agent.name) > 100:
        raise InvalidRequestError("name must be 1-100 characters", param="name")
    # Building the engine's config runs every check a session would run at start.
    agent_config(agent)
    public_overrides_from_json(agent.public_overrides)
    _check_route_urls(agent)


def _check_route_urls(agent: Agent) -> None:
    """A tenant's route may not point the server at loopback, private, link-local or metadata
    addresses (the webhooks' rule), unless the operator allows the host."""
    for stage in ("stt_routes", "llm_routes", "tts_routes"):
        for route in getattr(agent, stage) or ():
            base_url = route.get("base_url") if isinstance(route, dict) else None
            if base_url is None:
                continue
            try:
                check_webhook_url(
                    base_url,
                    settings.AURA_PROVIDER_ALLOWED_HOSTS,
                    allow_http=settings.AURA_TENANT_URLS_ALLOW_HTTP,
                )
            except InvalidRequestError as error:
                raise InvalidRequestError(
                    f"base_url {base_url!r}: a route may only reach public addresses, over "
                    "https (or a host in AURA_PROVIDER_ALLOWED_HOSTS)",
                    param=stage,
                ) from error


@transaction.atomic
def agent_create(*, name: str, webhook_tools: Sequence[str] = (), **settings: Any) -> Agent:
    unknown = set(settings) - set(AGENT_FIELDS)
    if unknown:
        raise InvalidRequestError(f"unknown agent fields: {', '.join(sorted(unknown))}")
    agent = Agent(name=name, **settings)
    _validate(agent)
    if Agent.objects.filter(name=name).exists():
        raise InvalidRequestError(f"an agent named {name!r} exists", param="name")
    if agent.is_default or not Agent.objects.exists():
        Agent.objects.filter(is_default=True).update(is_default=False)
        agent.is_default = True
    agent.save()
    if webhook_tools:
        _set_webhook_tools(agent, webhook_tools)
    return agent


TOOL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


@transaction.atomic
def webhook_tool_create(
    *,
    name: str,
    url: str,
    signing_secret: str,
    description: str = "",
    parameters: dict[str, Any] | None = None,
    timeout_s: float = 10.0,
) -> WebhookTool:
    """Register a webhook tool; its secret is stored encrypted and never shown again."""
    if not TOOL_NAME.match(name or ""):
        raise InvalidRequestError(
            "name must be 1-64 letters, digits, '_' or '-', starting with a letter", param="name"
        )
    if name in BUILTINS or WebhookTool.objects.filter(name=name).exists():
        raise InvalidRequestError(f"a tool named {name!r} exists", param="name")
    check_webhook_url(
        url, settings.AURA_WEBHOOK_ALLOWED_HOSTS, allow_http=settings.AURA_TENANT_URLS_ALLOW_HTTP
    )
    schema = parameters if parameters is not None else {"type": "object", "properties": {}}
    check_tool_schema(schema, param="parameters")
    if not isinstance(signing_secret, str) or len(signing_secret) < 16:
        raise InvalidRequestError(
            "signing_secret must be at least 16 characters", param="signing_secret"
        )
    if (
        isinstance(timeout_s, bool)
        or not isinstance(timeout_s, int | float)
        or not 0.5 <= timeout_s <= 30
    ):
        raise InvalidRequestError("timeout_s must be from 0.5 to 30 seconds", param="timeout_s")
    return WebhookTool.objects.create(
        name=name,
        description=description,
        parameters=schema,
        url=url,
        signing_secret_encrypted=encrypt(signing_secret),
        timeout_s=float(timeout_s),
    )


@transaction.atomic
def agent_update(
    *, agent: Agent, webhook_tools: Sequence[str] | None = None, **changes: Any
) -> Agent:
    """Change an agent's settings (and its webhook tools); every setting is checked again."""
    unknown = set(changes) - {"name", *AGENT_FIELDS}
    if unknown:
        raise InvalidRequestError(f"unknown agent fields: {', '.join(sorted(unknown))}")
    if changes.get("is_default") is False and agent.is_default:
        raise InvalidRequestError(
            "an organization always has a default agent: mark another one as default instead",
            param="is_default",
        )
    name = changes.get("name", agent.name)
    if Agent.objects.filter(name=name).exclude(pk=agent.pk).exists():
        raise InvalidRequestError(f"an agent named {name!r} exists", param="name")
    for field, value in changes.items():
        setattr(agent, field, value)
    _validate(agent)
    if changes.get("is_default"):
        Agent.objects.filter(is_default=True).exclude(pk=agent.pk).update(is_default=False)
    agent.save()
    if webhook_tools is not None:
        _set_webhook_tools(agent, webhook_tools)
    return agent


def _set_webhook_tools(agent: Agent, names: Sequence[str]) -> None:
    tools = list(WebhookTool.objects.filter(name__in=set(names)))
    missing = sorted(set(names) - {tool.name for tool in tools})
    if missing:
        raise InvalidRequestError(
            f"no webhook tool named {', '.join(missing)}", param="webhook_tools"
        )
    agent.webhook_tools.set(tools)


@transaction.atomic
def agent_delete(*, agent: Agent) -> None:
    if agent.is_default:
        raise InvalidRequestError(
            "the default agent cannot be deleted: mark another one as default first",
            code="default_agent",
        )
    agent.delete()


@transaction.atomic
def webhook_tool_update(
    *,
    tool: WebhookTool,
    name: str | None = None,
    url: str | None = None,
    signing_secret: str | None = None,
    description: str | None = None,
    parameters: dict[str, Any] | None = None,
    timeout_s: float | None = None,
    enabled: bool | None = None,
) -> WebhookTool:
    """Change a webhook tool; the same checks as when it was created."""
    if name is not None and name != tool.name:
        if not TOOL_NAME.match(name):
            raise InvalidRequestError(
                "name must be 1-64 letters, digits, '_' or '-', starting with a letter",
                param="name",
            )
        if name in BUILTINS or WebhookTool.objects.filter(name=name).exists():
            raise InvalidRequestError(f"a tool named {name!r} exists", param="name")
        tool.name = name
    if url is not None:
        check_webhook_url(
            url,
            settings.AURA_WEBHOOK_ALLOWED_HOSTS,
            allow_http=settings.AURA_TENANT_URLS_ALLOW_HTTP,
        )
        tool.url = url
    if parameters is not None:
        check_tool_schema(parameters, param="parameters")
        tool.parameters = parameters
    if signing_secret is not None:
        if len(signing_secret) < 16:
            raise InvalidRequestError(
                "signing_secret must be at least 16 characters", param="signing_secret"
            )
        tool.signing_secret_encrypted = encrypt(signing_secret)
    if timeout_s is not None:
        if not 0.5 <= timeout_s <= 30:
            raise InvalidRequestError("timeout_s must be from 0.5 to 30 seconds", param="timeout_s")
        tool.timeout_s = float(timeout_s)
    if description is not None:
        tool.description = description
    if enabled is not None:
        tool.enabled = enabled
    tool.save()
    return tool


@transaction.atomic
def webhook_tool_delete(*, tool: WebhookTool) -> None:
    tool.delete()


def _key_hint(api_key: str) -> str:
    return f"{api_key[:3]}…{api_key[-4:]}"


@transaction.atomic
def provider_credential_set(*, provider: str, api_key: str) -> ProviderCredential:
    """Store (or replace) the organization's key for a provider, encrypted."""
    if provider not in ProviderCredential.Provider.values:
        raise InvalidRequestError(f"unknown provider {provider!r}", param="provider")
    api_key = api_key.strip()
    if not 20 <= len(api_key) <= 500 or any(character.isspace() for character in api_key):
        raise InvalidRequestError(
            "api_key must be 20-500 characters without spaces", param="api_key"
        )
    credential, _ = ProviderCredential.objects.update_or_create(
        provider=provider,
        defaults={"api_key_encrypted": encrypt(api_key), "key_hint": _key_hint(api_key)},
    )
    return credential


@transaction.atomic
def provider_credential_delete(*, credential: ProviderCredential) -> None:
    credential.delete()
