"""Host-based tenant resolution for HTTP (django-tenants), refusing unknown and suspended hosts."""

from __future__ import annotations

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

from core.errors import AuraError
from tenants.db import use_public_schema
from tenants.errors import AuthenticationError, OrganizationSuspendedError
from tenants.responses import error_response


class OrganizationMiddleware(TenantMainMiddleware):
    def process_request(self, request: HttpRequest) -> HttpResponseBase | None:
        try:
            request.get_host()
        except DisallowedHost:
            # Outside ALLOWED_HOSTS: answer like any other host we do not serve.
            return self.no_tenant_found(request, "")
        response = super().process_request(request)
        if response is not None:
            return response
        tenant = request.tenant  # type: ignore[attr-defined]
        if tenant.schema_name != get_public_schema_name() and not tenant.is_active:
            use_public_schema()
            return error_response(
                request, OrganizationSuspendedError("This organization is suspended."), status=403
            )
        return None

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        error: AuraError = AuthenticationError(
            "No organization is served at this address.", code="unknown_host"
        )
        return error_response(request, error, status=404)
