"""REST endpoints of the tenants app: an organization's API keys, and the platform's
organizations (staff keys of the platform organization only)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.errors import PermissionDeniedError
from tenants.models import API_KEY_VISIBLE_FIELDS, ApiKey, Organization
from tenants.rest.views import OrganizationViewSet, PlatformViewSet, created
from tenants.selectors import ResolvedKey
from tenants.services import (
    KNOWN_SCOPES,
    STAFF_SCOPE,
    AdminInvite,
    IssuedKey,
    api_key_create,
    api_key_revoke,
    api_key_rotate,
    api_key_scopes_for,
    organization_admin_invite,
    organization_register,
    organization_resume,
    organization_retry_provisioning,
    organization_suspend,
)

MAX_GRACE_SECONDS = 30 * 24 * 3600
ORGANIZATION_SCOPES = sorted(KNOWN_SCOPES - {STAFF_SCOPE})


def _actor(key: ResolvedKey) -> str:
    return f"api:{key.prefix}"


# --- API keys ----------------------------------------------------------------------------------


class ApiKeySerializer(serializers.ModelSerializer[ApiKey]):
    status = serializers.SerializerMethodField()
    replaced_by: serializers.PrimaryKeyRelatedField[ApiKey] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )

    class Meta:
        model = ApiKey
        fields = ["id", "status", *API_KEY_VISIBLE_FIELDS]
        read_only_fields = fields

    def get_status(self, api_key: ApiKey) -> str:
        if api_key.revoked_at is not None:
            return "revoked"
        if api_key.expires_at is not None and api_key.expires_at <= timezone.now():
            return "expired"
        return "active"


class IssuedKeySerializer(ApiKeySerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The whole key. Shown this once: only a hash of it is kept."
    )

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "secret"]
        read_only_fields = fields


def issued_key_data(issued: IssuedKey) -> dict[str, Any]:
    data: dict[str, Any] = dict(ApiKeySerializer(issued.api_key).data)
    data["secret"] = issued.plaintext
    return data


class ApiKeyCreateSerializer(serializers.Serializer[None]):
    kind = serializers.ChoiceField(choices=ApiKey.Kind.choices, default=ApiKey.Kind.SECRET)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ORGANIZATION_SCOPES),
        required=False,
        max_length=len(ORGANIZATION_SCOPES),
        help_text="A secret key that names none (omitted or empty) gets the standard "
        "secret-key scopes the calling key holds; a publishable key always holds `realtime` "
        "only. A key can only grant scopes it holds itself, the defaults included.",
    )
    allowed_origins = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, default=list, max_length=50
    )
    allowed_agents = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        default=list,
        max_length=50,
        help_text="Publishable keys only: names of the agents the key may open sessions with. "
        "Empty (the default): the organization's default agent only.",
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    auto_rotate = serializers.BooleanField(required=False, default=False)


class ApiKeyRotateSerializer(serializers.Serializer[None]):
    grace_seconds = serializers.IntegerField(
        min_value=0,
        max_value=MAX_GRACE_SECONDS,
        required=False,
        allow_null=True,
        default=None,
        help_text="How long the old key keeps working (default: the platform's setting).",
    )


class ApiKeyFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ApiKey.Kind.choices)
    name = django_filters.CharFilter(lookup_expr="icontains", max_length=100)
    revoked = django_filters.BooleanFilter(
        field_name="revoked_at", lookup_expr="isnull", exclude=True
    )
    auto_rotate = django_filters.BooleanFilter()

    class Meta:
        model = ApiKey
        fields = ["kind", "name", "revoked", "auto_rotate"]


@extend_schema(tags=["keys"])
class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    """The calling organization's API keys. Secrets are shown once, when a key is issued."""

    required_scope = "keys"
    serializer_class = ApiKeySerializer
    filterset_class = ApiKeyFilter
    ordering_fields = ["created_at", "name", "last_used_at"]
    ordering = ["-created_at"]
    lookup_value_regex = r"\d+"

    def _check_can_grant(self, scopes: list[str]) -> None:
        missing = sorted(set(scopes) - set(self.api_key.scopes))
        if missing:
            raise PermissionDeniedError(
                f"A key can only grant scopes it holds itself; this one lacks: "
                f"{', '.join(missing)}.",
                code="scope_escalation",
            )

    def get_queryset(self) -> QuerySet[ApiKey]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular's schema generation
            return ApiKey.objects.none()
        return ApiKey.objects.filter(organization_id=self.api_key.tenant.organization_id)

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: IssuedKeySerializer})
    def create(self, request: Request) -> Response:
        params = ApiKeyCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        values = dict(params.validated_data)
        # The check applies to the scopes the key will really hold, defaults included.
        scopes = api_key_scopes_for(
            kind=values["kind"], requested=values.get("scopes"), held=self.api_key.scopes
        )
        self._check_can_grant(scopes)
        issued = api_key_create(
            organization=Organization.objects.get(pk=self.api_key.tenant.organization_id),
            kind=values["kind"],
            name=values["name"],
            scopes=scopes,
            allowed_origins=values["allowed_origins"],
            allowed_agents=values["allowed_agents"],
            expires_at=values["expires_at"],
            auto_rotate=values["auto_rotate"],
            actor=_actor(self.api_key),
        )
        return created(issued_key_data(issued))

    @extend_schema(request=None, responses={200: ApiKeySerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        api_key = api_key_revoke(api_key=self.get_object(), actor=_actor(self.api_key))
        return Response(ApiKeySerializer(api_key).data)

    @extend_schema(request=ApiKeyRotateSerializer, responses={201: IssuedKeySerializer})
    @action(detail=True, methods=["post"])
    def rotate(self, request: Request, pk: str) -> Response:
        params = ApiKeyRotateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        api_key = self.get_object()
        # The successor has the same scopes: rotating is granting them.
        self._check_can_grant(api_key.scopes)
        issued = api_key_rotate(
            api_key=api_key,
            grace_seconds=params.validated_data["grace_seconds"],
            actor=_actor(self.api_key),
        )
        return created(issued_key_data(issued))


# --- Platform: organizations -------------------------------------------------------------------


class OrganizationSerializer(serializers.ModelSerializer[Organization]):
    domains = serializers.SerializerMethodField()

    class Meta:
        model = Organization
        fields = ["id", "slug", "name", "plan", "status", "schema_name", "domains", "created_at"]
        read_only_fields = fields

    def get_domains(self, organization: Organization) -> list[str]:
        return [domain.domain for domain in organization.domains.all()]


class OrganizationCreateSerializer(serializers.Serializer[None]):
    slug = serializers.RegexField(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$", max_length=40)
    name = serializers.CharField(max_length=200)
    plan = serializers.ChoiceField(
        choices=Organization.Plan.choices, default=Organization.Plan.FREE
    )
    domain = serializers.CharField(
        max_length=253,
        required=False,
        allow_null=True,
        default=None,
        help_text="Its primary host name; default <slug>.<the platform's base domain>.",
    )


class OrganizationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Organization.Status.choices)
    plan = django_filters.ChoiceFilter(choices=Organization.Plan.choices)
    slug = django_filters.CharFilter(lookup_expr="icontains", max_length=50)

    class Meta:
        model = Organization
        fields = ["status", "plan", "slug"]


class AdminInviteCreateSerializer(serializers.Serializer[None]):
    email = serializers.EmailField(
        max_length=254, help_text="The admin's email address, also its user name."
    )


class AdminInviteSerializer(serializers.Serializer[AdminInvite]):
    username = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    created = serializers.BooleanField(
        read_only=True, help_text="False: an existing admin was reset (its password unusable)."
    )
    set_password_url = serializers.URLField(
        read_only=True,
        help_text="Give it to the admin: on the organization's domain, it sets a password once.",
    )
    expires_at = serializers.DateTimeField(read_only=True)


@extend_schema(tags=["platform"])
class PlatformOrganizationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformViewSet
):
    """Organizations on this platform. New ones are built in the background: poll `status`."""

    serializer_class = OrganizationSerializer
    filterset_class = OrganizationFilter
    ordering_fields = ["created_at", "slug", "name"]
    ordering = ["slug"]
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Organization]:
        return (
            Organization.objects.exclude(schema_name="public")
            .prefetch_related("domains")
            .order_by("slug")
        )

    @extend_schema(request=OrganizationCreateSerializer, responses={202: OrganizationSerializer})
    def create(self, request: Request) -> Response:
        params = OrganizationCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        organization = organization_register(**params.validated_data)
        return Response(OrganizationSerializer(organization).data, status=202)

    @extend_schema(request=None, responses={200: OrganizationSerializer})
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, pk: str) -> Response:
        organization = organization_suspend(organization=self.get_object())
        return Response(OrganizationSerializer(organization).data)

    @extend_schema(request=None, responses={202: OrganizationSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        """Provision a failed organization again (its status goes back to provisioning)."""
        organization = organization_retry_provisioning(organization=self.get_object())
        return Response(OrganizationSerializer(organization).data, status=202)

    @extend_schema(request=None, responses={200: OrganizationSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str) -> Response:
        organization = organization_resume(organization=self.get_object())
        return Response(OrganizationSerializer(organization).data)

    @extend_schema(
        request=AdminInviteCreateSerializer,
        responses={201: AdminInviteSerializer},
        summary="Invite an organization's admin",
    )
    @action(detail=True, methods=["post"], url_path="admins")
    def invite_admin(self, request: Request, pk: str) -> Response:
        """Create (or reset) an admin of the organization's own admin site, and return a link
        that sets its password once (valid for the platform's AURA_ADMIN_INVITE_VALID_SECONDS)."""
        params = AdminInviteCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        key = request.auth
        assert isinstance(key, ResolvedKey)  # PlatformStaff let only such a key through
        invite = organization_admin_invite(
            organization=self.get_object(),
            email=params.validated_data["email"],
            actor=_actor(key),
        )
        return created(AdminInviteSerializer(invite).data)
