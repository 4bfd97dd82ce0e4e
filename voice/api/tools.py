"""Webhook tools: functions an organization implements as HTTPS endpoints (signed calls)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.rest.views import OrganizationViewSet, created
from voice.models import Agent, WebhookTool
from voice.services import webhook_tool_create, webhook_tool_delete, webhook_tool_update


class WebhookToolSerializer(serializers.ModelSerializer[WebhookTool]):
    name = serializers.CharField(max_length=64)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    parameters = serializers.DictField(
        required=False, help_text="JSON schema (type object) of the arguments the model passes."
    )
    url = serializers.CharField(
        max_length=500, help_text="https URL on the public internet; called with POST."
    )
    signing_secret = serializers.CharField(
        write_only=True,
        min_length=16,
        max_length=200,
        help_text="Signs each call (HMAC-SHA256). Stored encrypted and never returned.",
    )
    timeout_s = serializers.FloatField(min_value=0.5, max_value=30, required=False)
    agents: serializers.SlugRelatedField[Agent] = serializers.SlugRelatedField(
        slug_field="name", many=True, read_only=True
    )

    class Meta:
        model = WebhookTool
        fields = [
            "id",
            "name",
            "description",
            "parameters",
            "url",
            "signing_secret",
            "timeout_s",
            "enabled",
            "agents",
            "created_at",
        ]
        read_only_fields = ["id", "agents", "created_at"]


class WebhookToolFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", max_length=64)
    enabled = django_filters.BooleanFilter()

    class Meta:
        model = WebhookTool
        fields = ["name", "enabled"]


@extend_schema(tags=["tools"])
class WebhookToolViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, OrganizationViewSet
):
    """Webhook tools of the organization. Attach them to agents with `webhook_tools`."""

    required_scope = "tools"
    serializer_class = WebhookToolSerializer
    filterset_class = WebhookToolFilter
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[WebhookTool]:
        return WebhookTool.objects.prefetch_related("agents")

    @extend_schema(responses={201: WebhookToolSerializer})
    def create(self, request: Request) -> Response:
        params = WebhookToolSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        values = dict(params.validated_data)
        values.pop("enabled", None)
        tool = webhook_tool_create(**values)
        if params.validated_data.get("enabled") is False:
            tool = webhook_tool_update(tool=tool, enabled=False)
        return created(WebhookToolSerializer(tool).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        tool = self.get_object()
        params = WebhookToolSerializer(tool, data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        tool = webhook_tool_update(tool=tool, **params.validated_data)
        return Response(WebhookToolSerializer(tool).data)

    def perform_destroy(self, instance: WebhookTool) -> None:
        webhook_tool_delete(tool=instance)
