"""Who is connecting to /v1/realtime: credentials from the handshake, resolved to a tenant.

Accepted, in this order:
- `Authorization: Bearer sk_…` (what the official openai SDK sends) or `Bearer ek_…`;
- the subprotocol `openai-insecure-api-key.<key>` (how browsers pass a key, as with OpenAI);
A publishable `pk_…` key additionally needs its page's `Origin` to be one of the key's origins.

Who the end user is, is taken only from what the organization vouches for: a secret key's
`?user=`, or the user a client secret was minted for. A publishable key sits in public pages,
so its `?user=` is ignored: its sessions have no end user and no memory of earlier ones. The
same key opens sessions only with the agents it lists (by default the organization's default
agent), and changes of what the model is told are the agent's `public_overrides` to allow
(voice.realtime.session_config).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable
from channels.middleware import BaseMiddleware

from tenants.db import in_public_schema
from tenants.errors import AuthenticationError, OrganizationSuspendedError, PermissionDeniedError
from tenants.selectors import TenantRef, organization_by_schema, resolve_api_key
from voice.engine.errors import AuraError, InvalidRequestError
from voice.models import Agent
from voice.realtime.client_secrets import client_secret_resolve
from voice.selectors import agent_for_session

KEY_SUBPROTOCOL_PREFIX = "openai-insecure-api-key."
SCOPE_CREDENTIALS = "aura_credentials"
SCOPE_AUTH_ERROR = "aura_auth_error"

if TYPE_CHECKING:
    # The stubs' own names for a Channels scope and the application a middleware returns.
    from channels.consumer import _ChannelScope
    from channels.utils import _ChannelApplication


@dataclass(frozen=True, slots=True)
class RealtimeCredentials:
    tenant: TenantRef
    kind: str  # "sk", "pk" or "ek"
    key_id: int | None
    session_defaults: dict[str, Any] = field(default_factory=dict)
    # The end user a client secret was minted for ("" when none).
    end_user_id: str = ""
    # A publishable key's agents (empty: the organization's default agent only).
    allowed_agents: tuple[str, ...] = ()

    @property
    def is_public(self) -> bool:
        """A publishable key: anyone who can read the page it is on holds it."""
        return self.kind == "pk"


def vouched_end_user(credentials: RealtimeCredentials, requested: str) -> str:
    """The end user of a session, as far as the organization vouches for one ("" if not).

    A secret key's holder is the organization itself, so its `?user=` is believed; a client
    secret carries the user its minting server named (a `?user=` cannot change it); a
    publishable key's `?user=` is anyone's to write, so it is ignored.
    """
    if credentials.kind == "sk":
        return requested
    if credentials.kind == "ek":
        return credentials.end_user_id
    return ""


def session_agent(credentials: RealtimeCredentials, name: str | None) -> Agent:
    """The agent a session asks for, if these credentials may talk to it (in its schema).

    A publishable key learns nothing from a refusal: an agent it may not use and one that
    does not exist are refused alike.
    """
    if not credentials.is_public:
        return agent_for_session(name)
    try:
        agent: Agent | None = agent_for_session(name)
    except InvalidRequestError:
        agent = None
    if agent is None or not _public_agent(credentials, agent):
        raise PermissionDeniedError(
            "This key may not open sessions with that agent.",
            code="agent_not_allowed",
            param="agent",
        )
    return agent


def override_policy(
    credentials: RealtimeCredentials, conversation_id: str
) -> frozenset[str] | None:
    """The model settings this session's client may change (in its schema): all of them
    (None), or for a publishable key those its conversation's agent lists."""
    if not credentials.is_public:
        return None
    agent = Agent.objects.filter(conversations__pk=conversation_id).first()
    return frozenset(agent.public_overrides) if agent is not None else frozenset()


def _public_agent(credentials: RealtimeCredentials, agent: Agent) -> bool:
    if credentials.allowed_agents:
        return agent.name in credentials.allowed_agents
    return agent.is_default


def header(scope: Mapping[str, Any], name: str) -> str | None:
    wanted = name.lower().encode()
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            return bytes(value).decode("latin-1")
    return None


def presented_key(scope: Mapping[str, Any]) -> str | None:
    authorization = header(scope, "authorization")
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None
    subprotocols: Iterable[str] = scope.get("subprotocols", ())
    for subprotocol in subprotocols:
        if subprotocol.startswith(KEY_SUBPROTOCOL_PREFIX):
            return subprotocol[len(KEY_SUBPROTOCOL_PREFIX) :]
    return None


async def authenticate(scope: Mapping[str, Any]) -> RealtimeCredentials:
    key = presented_key(scope)
    if not key:
        raise AuthenticationError(
            "No API key: send 'Authorization: Bearer <key>' or the subprotocol "
            "'openai-insecure-api-key.<key>'.",
            code="missing_api_key",
        )
    if key.startswith("ek_"):
        return await _from_client_secret(key)
    resolved = await in_public_schema(
        resolve_api_key, key, required_scope="realtime", origin=header(scope, "origin")
    )
    return RealtimeCredentials(
        tenant=resolved.tenant,
        kind=resolved.kind,
        key_id=resolved.key_id,
        allowed_agents=resolved.allowed_agents,
    )


async def _from_client_secret(value: str) -> RealtimeCredentials:
    found = await client_secret_resolve(value)
    if found is None:
        raise AuthenticationError("Invalid or expired client secret.")
    organization = await in_public_schema(organization_by_schema, found.tenant.schema_name)
    if not organization.is_active:
        raise OrganizationSuspendedError("This organization is suspended.")
    # The issuing key stands for the secret: limits, resume tokens and revocation go by it.
    return RealtimeCredentials(
        tenant=found.tenant,
        kind="ek",
        key_id=found.issuer_key_id,
        session_defaults=found.session_defaults,
        end_user_id=found.end_user_id,
    )


class RealtimeAuthMiddleware(BaseMiddleware):
    """Resolves the credentials once per connection; the consumer decides how to refuse."""

    async def __call__(
        self, scope: _ChannelScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> _ChannelApplication:
        authenticated: dict[str, object] = dict(scope)
        try:
            authenticated[SCOPE_CREDENTIALS] = await authenticate(scope)
            authenticated[SCOPE_AUTH_ERROR] = None
        except AuraError as error:
            authenticated[SCOPE_CREDENTIALS] = None
            authenticated[SCOPE_AUTH_ERROR] = error
        # Channels middleware adds keys to the scope by design, but the channels stubs type it
        # as a closed TypedDict: the extended scope can only be handed on through a cast.
        return await super().__call__(cast("_ChannelScope", authenticated), receive, send)


def scope_credentials(scope: Mapping[str, object]) -> RealtimeCredentials | None:
    """The credentials `RealtimeAuthMiddleware` put in the scope, if the key was valid."""
    credentials = scope.get(SCOPE_CREDENTIALS)
    return credentials if isinstance(credentials, RealtimeCredentials) else None


def scope_auth_error(scope: Mapping[str, object]) -> AuraError | None:
    """Why `RealtimeAuthMiddleware` refused the key, if it did."""
    error = scope.get(SCOPE_AUTH_ERROR)
    return error if isinstance(error, AuraError) else None
