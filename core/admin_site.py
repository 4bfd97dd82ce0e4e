"""The two admin sites: the platform's, and each organization's own.

The URL conf chooses the site. The platform's domains (public schema, `urls_public`) serve
`PlatformAdminSite`, which is Django's default `admin.site` (core/admin_apps.py): what
third-party apps register by default (django_celery_beat's schedules, ...) is the platform's.
An organization's domain (its schema, `urls_tenants`) serves `tenant_admin_site`, which shows
only what the apps register on it explicitly: the organization's own data. A model that is not
registered on a site has no URL there, so a tenant admin gets a 404 for the platform's pages,
whatever their permissions.

Rows of shared tables that belong to one organization (its API keys, their audit log) are
filtered to that organization on its domain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.views import PasswordResetCompleteView, PasswordResetConfirmView
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse_lazy
from django_tenants.utils import get_public_schema_name

from core.client_address import request_client_address
from core.login_throttle import SignInAttempt, sign_in_failure_record, sign_in_retry_after_s

RETRY_AFTER_ATTRIBUTE = "aura_sign_in_retry_after_s"


def request_organization_id(request: HttpRequest) -> int | None:
    """The organization whose domain served the request; None on the platform's domains."""
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.schema_name == get_public_schema_name():
        return None
    return int(tenant.pk)


def on_tenant_site(request: HttpRequest) -> bool:
    return request_organization_id(request) is not None


class ThrottledAuthenticationForm(AdminAuthenticationForm):
    """The admin's sign-in form, refusing an account or address after repeated failures.

    A refused attempt is not even checked: the right password after too many wrong ones is
    refused too, until the window has passed.
    """

    def _attempt(self) -> SignInAttempt | None:
        if self.request is None:
            return None
        tenant = getattr(self.request, "tenant", None)
        return SignInAttempt(
            schema_name=tenant.schema_name if tenant is not None else get_public_schema_name(),
            username=str(self.cleaned_data.get("username") or ""),
            # Behind a proxy, the client's own address (AURA_TRUSTED_PROXIES), not the proxy's:
            # otherwise one attacker's failures would lock every administrator out.
            client_address=request_client_address(self.request) or "unknown",
        )

    def clean(self) -> dict[str, Any]:
        attempt = self._attempt()
        if attempt is None:
            return super().clean()
        retry_after_s = sign_in_retry_after_s(attempt)
        if retry_after_s is not None:
            setattr(self.request, RETRY_AFTER_ATTRIBUTE, retry_after_s)
            minutes = max(1, round(retry_after_s / 60))
            raise ValidationError(
                "Too many failed sign-ins for this account or from this address. "
                f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
                code="throttled",
            )
        try:
            return super().clean()
        except ValidationError:
            sign_in_failure_record(attempt)
            raise


class AuraAdminSite(admin.AdminSite):
    """What both sites share: AURA's name, and throttled sign-ins."""

    site_title = "AURA admin"
    site_header = "AURA administration"
    index_title = "Administration"
    login_form = ThrottledAuthenticationForm

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        response = super().login(request, extra_context)
        retry_after_s = getattr(request, RETRY_AFTER_ATTRIBUTE, None)
        if retry_after_s is not None and isinstance(response, HttpResponse):
            response.status_code = 429
            response["Retry-After"] = str(retry_after_s)
        return response


class PlatformAdminSite(AuraAdminSite):
    """The platform operator's admin: organizations, every key, the Celery beat schedule."""

    site_header = "AURA platform administration"
    index_title = "Platform"

    def has_permission(self, request: HttpRequest) -> bool:
        # Served by the platform's URL conf only; refused anywhere else all the same.
        return not on_tenant_site(request) and super().has_permission(request)


class TenantAdminSite(AuraAdminSite):
    """An organization's admin on its own domain: its own data, the dashboard first."""

    index_template = "admin/aura/tenant_index.html"
    # What the index shows of the organization's day: set by monitoring's AppConfig.ready()
    # (this module sits below the apps and imports none of them).
    dashboard: Callable[..., Any] | None = None

    def get_urls(self) -> list[URLPattern | URLResolver]:
        set_password = [
            path("set-password/<uidb64>/<token>/", self.set_password, name="set_password"),
            path("set-password/done/", self.set_password_done, name="set_password_done"),
        ]
        return set_password + super().get_urls()

    def set_password(self, request: HttpRequest, uidb64: str, token: str) -> HttpResponseBase:
        """An invited admin's link (tenants.services.organization_admin_invite): Django's
        password-reset token, valid for PASSWORD_RESET_TIMEOUT and spent once used."""
        request.current_app = self.name
        view = PasswordResetConfirmView.as_view(
            success_url=reverse_lazy("admin:set_password_done", current_app=self.name),
            extra_context=self.each_context(request),
        )
        return view(request, uidb64=uidb64, token=token)

    def set_password_done(self, request: HttpRequest) -> HttpResponseBase:
        request.current_app = self.name
        view = PasswordResetCompleteView.as_view(extra_context=self.each_context(request))
        return view(request)

    def has_permission(self, request: HttpRequest) -> bool:
        return on_tenant_site(request) and super().has_permission(request)

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        organization = getattr(request, "tenant", None)
        if organization is not None and on_tenant_site(request):
            context["site_header"] = f"AURA · {organization.name}"
            context["site_title"] = f"{organization.name} · AURA admin"
        return context

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        organization = getattr(request, "tenant")  # noqa: B009 - has_permission checked it
        context = {
            "title": f"{organization.name} today",
            "today": self.dashboard(organization=organization) if self.dashboard else None,
            **(extra_context or {}),
        }
        response: TemplateResponse = super().index(request, context)
        return response


tenant_admin_site = TenantAdminSite(name="admin")


_RowModel = TypeVar("_RowModel", bound=Model)


class OrganizationRowsAdmin(admin.ModelAdmin[_RowModel]):
    """Rows of a shared table with an `organization` column: an organization sees its own."""

    organization_field = "organization"

    def get_queryset(self, request: HttpRequest) -> QuerySet[_RowModel]:
        queryset = super().get_queryset(request)
        organization_id = request_organization_id(request)
        if organization_id is None:
            if self.admin_site is tenant_admin_site:
                return queryset.none()
            return queryset
        return queryset.filter(**{f"{self.organization_field}_id": organization_id})


class ReadOnlyAdminMixin:
    """Facts (usage, audit logs) are recorded by services, never edited by hand."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
