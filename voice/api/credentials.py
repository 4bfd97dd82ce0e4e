"""Provider credentials: an organization's own OpenAI and xAI keys, for its agents' routes.

Stored encrypted (Fernet, core.encryption); responses show a hint, never the key.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.rest.views import OrganizationViewSet
from voice.models import ProviderCredential
from voice.services import provider_credential_delete, provider_credential_set


class ProviderCredentialSerializer(serializers.ModelSerializer[ProviderCredential]):
    class Meta:
        model = ProviderCredential
        fields = ["provider", "key_hint", "created_at", "updated_at"]
        read_only_fields = fields


class ProviderCredentialSetSerializer(serializers.Serializer[None]):
    api_key = serializers.CharField(
        min_length=20,
        max_length=500,
        trim_whitespace=True,
        help_text="The provider's API key. Stored encrypted; only a hint is ever shown.",
    )


@extend_schema(tags=["provider credentials"])
class ProviderCredentialViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, OrganizationViewSet
):
    """The organization's own keys: routes to `openai` or `grok` without a key use them."""

    required_scope = "admin"
    serializer_class = ProviderCredentialSerializer
    lookup_field = "provider"
    lookup_value_regex = "|".join(ProviderCredential.Provider.values)
    ordering_fields = ["provider", "updated_at"]
    ordering = ["provider"]
    http_method_names = ["get", "put", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[ProviderCredential]:
        return ProviderCredential.objects.all()

    @extend_schema(
        request=ProviderCredentialSetSerializer,
        responses={200: ProviderCredentialSerializer, 201: ProviderCredentialSerializer},
    )
    def update(self, request: Request, provider: str) -> Response:
        params = ProviderCredentialSetSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        existed = ProviderCredential.objects.filter(provider=provider).exists()
        credential = provider_credential_set(
            provider=provider, api_key=params.validated_data["api_key"]
        )
        return Response(
            ProviderCredentialSerializer(credential).data, status=200 if existed else 201
        )

    def perform_destroy(self, instance: ProviderCredential) -> None:
        provider_credential_delete(credential=instance)
