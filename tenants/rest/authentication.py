"""Secret-key authentication for the REST API: `Authorization: Bearer sk_…`.

The key decides the organization (tenants.selectors.resolve_api_key, the one resolution
helper); on an organization's own domain the key must also belong to that organization.
"""

from __future__ import annotations

from typing import Any

from django_tenants.utils import get_public_schema_name
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from tenants.errors import AuthenticationError
from tenants.selectors import ResolvedKey, resolve_api_key

MISSING_KEY_MESSAGE = "Send your secret key as 'Authorization: Bearer sk_…'."


class ApiPrincipal:
    """Who is calling: a key, not a person (DRF wants something user-like)."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: ResolvedKey):
        self.key = key

    def __str__(self) -> str:
        return f"{self.key.prefix}… of {self.key.tenant.slug}"


class SecretKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiPrincipal, ResolvedKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationError(MISSING_KEY_MESSAGE, code="missing_api_key")
        if not token.startswith("sk_"):
            # Publishable (pk_) and ephemeral (ek_) keys open voice sessions, nothing else.
            raise AuthenticationError("The REST API takes a secret (sk_) key.")
        resolved = resolve_api_key(token)
        host_tenant: Any = getattr(request._request, "tenant", None)
        if (
            host_tenant is not None
            and host_tenant.schema_name != get_public_schema_name()
            and host_tenant.pk != resolved.tenant.organization_id
        ):
            # Another organization's domain: answer as for any key that is not valid here.
            raise AuthenticationError("Invalid API key.")
        return ApiPrincipal(resolved), resolved

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="aura"'


# drf-spectacular registers extensions in an unannotated __init_subclass__.
class SecretKeyAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """How drf-spectacular describes SecretKeyAuthentication in the OpenAPI document."""

    target_class = SecretKeyAuthentication
    name = "secretKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "sk_<8 characters>_<secret>",
            "description": "An organization's secret key; its scopes decide what it may do.",
        }
