"""Reads of the voice app; callers run them inside the organization's schema."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable

from django.conf import settings

from core.encryption import DecryptionError, decrypt
from voice.agent_config import agent_config_from_settings
from voice.engine.config import AgentConfig, KeyFallback, RouteConfig, ToolSpec
from voice.engine.errors import InvalidRequestError
from voice.models import Agent, ProviderCredential, WebhookTool
from voice.webhooks import WebhookDefinition

logger = logging.getLogger(__name__)


def agent_for_session(name: str | None) -> Agent:
    """The named agent, or the organization's default (the first one if none is marked)."""
    agents = Agent.objects.all()
    agent = agents.filter(name=name).first() if name else agents.filter(is_default=True).first()
    if agent is None and not name:
        agent = agents.first()
    if agent is None:
        raise InvalidRequestError(
            f"No agent named {name!r}." if name else "This organization has no agent yet.",
            code="unknown_agent",
            param="agent",
        )
    return agent


def agent_config(agent: Agent) -> AgentConfig:
    config = public_only_urls(_settings_config(agent))
    if agent.pk is None:
        return config  # not saved yet: it has no webhook tools
    config = dataclasses.replace(config, tools=config.tools + webhook_specs(agent))
    return with_provider_keys(config)


ROUTE_STAGES = ("stt_routes", "llm_routes", "tts_routes")


def public_only_urls(config: AgentConfig) -> AgentConfig:
    """Routes with the organization's own base_url may connect to public addresses only, plus
    the hosts the operator allows (AURA_PROVIDER_ALLOWED_HOSTS); checked at every connection,
    after DNS, since a name that looked public when the agent was saved may not stay so."""
    allowed = tuple(settings.AURA_PROVIDER_ALLOWED_HOSTS)
    return _each_route(
        config,
        lambda route: dataclasses.replace(route, public_only=allowed) if route.base_url else route,
    )


def _each_route(config: AgentConfig, change: Callable[[RouteConfig], RouteConfig]) -> AgentConfig:
    """The config with `change` applied to every route of every stage."""

    def changed(routes: tuple[RouteConfig, ...]) -> tuple[RouteConfig, ...]:
        return tuple(change(route) for route in routes)

    return dataclasses.replace(
        config,
        stt_routes=changed(config.stt_routes),
        llm_routes=changed(config.llm_routes),
        tts_routes=changed(config.tts_routes),
    )


def with_provider_keys(config: AgentConfig) -> AgentConfig:
    """Decide, route by route, which key each cloud route is called with.

    The organization's own key for the provider (ProviderCredential) wherever it points; the
    operator's key (OPENAI_API_KEY, XAI_API_KEY) only for a route to the operator's endpoint
    (no base_url) when the organization stored none; a stored key that cannot be decrypted
    makes the route unusable, never a reason to send the operator's key instead. Decided
    afresh on every call, so a resumed session (whose snapshot keeps no keys) gets the same.
    """
    wanted = {
        route.provider
        for stage in ROUTE_STAGES
        for route in getattr(config, stage)
        if route.provider in ProviderCredential.Provider.values
    }
    keys = _organization_keys(wanted) if wanted else {}
    return _each_route(config, lambda route: _keyed(route, keys))


def _organization_keys(providers: set[str]) -> dict[str, str | None]:
    """The organization's stored key per provider; None where it cannot be decrypted."""
    keys: dict[str, str | None] = {}
    for credential in ProviderCredential.objects.filter(provider__in=providers):
        try:
            keys[credential.provider] = decrypt(credential.api_key_encrypted)
        except DecryptionError:
            logger.error(
                "the organization's %s key cannot be decrypted (was AURA_ENCRYPTION_KEY "
                "changed?): its routes are unavailable until it is stored again",
                credential.provider,
            )
            keys[credential.provider] = None
    return keys


def _keyed(route: RouteConfig, keys: dict[str, str | None]) -> RouteConfig:
    if route.api_key or route.provider not in ProviderCredential.Provider.values:
        return dataclasses.replace(route, key_fallback="none")
    if route.provider in keys:
        key = keys[route.provider]
        if key is None:
            return dataclasses.replace(route, api_key=None, key_fallback="unreadable")
        return dataclasses.replace(route, api_key=key, key_fallback="none")
    fallback: KeyFallback = "platform" if route.base_url is None else "none"
    return dataclasses.replace(route, api_key=None, key_fallback=fallback)


def webhook_specs(agent: Agent) -> tuple[ToolSpec, ...]:
    """The enabled webhook tools the agent may call, as the model sees them."""
    return tuple(
        ToolSpec(
            name=tool.name,
            description=tool.description,
            parameters=dict(tool.parameters),
            kind="server",
            timeout_s=tool.timeout_s,
        )
        for tool in agent.webhook_tools.filter(enabled=True)
    )


def webhook_definitions(names: Iterable[str]) -> list[WebhookDefinition]:
    """What the executor needs to call these webhook tools (signing secrets decrypted)."""
    return [
        WebhookDefinition(
            name=tool.name,
            url=tool.url,
            signing_secret=decrypt(tool.signing_secret_encrypted),
            timeout_s=tool.timeout_s,
        )
        for tool in WebhookTool.objects.filter(name__in=list(names), enabled=True)
    ]


def _settings_config(agent: Agent) -> AgentConfig:
    return agent_config_from_settings(
        instructions=agent.instructions,
        voice=agent.voice,
        language=agent.language,
        stt_routes=agent.stt_routes,
        llm_routes=agent.llm_routes,
        tts_routes=agent.tts_routes,
        turn_detection=agent.turn_detection,
        max_output_tokens=agent.max_output_tokens,
        builtin_tools=agent.builtin_tools,
        vocabulary=agent.vocabulary,
        speculation=agent.speculation,
    )
