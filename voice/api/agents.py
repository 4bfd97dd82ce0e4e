"""Agents: what an organization's assistant says, hears with, thinks with and speaks with."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.rest.views import OrganizationViewSet, created
from voice.agent_config import MAX_TERM_CHARS, MAX_VOCABULARY_TERMS, PUBLIC_OVERRIDABLE
from voice.engine.config import SPECULATION_MODES
from voice.models import Agent, WebhookTool
from voice.services import AGENT_FIELDS, agent_create, agent_delete, agent_update


class RouteSerializer(serializers.Serializer[None]):
    """One route of the smart router: tried in order, the next one when a route fails."""

    provider = serializers.CharField(
        max_length=50, help_text="local, openai, grok (LLM only) or openai_compatible."
    )
    model = serializers.CharField(max_length=100)
    base_url = serializers.CharField(
        max_length=500, required=False, help_text="Needed by openai_compatible."
    )
    first_token_budget_ms = serializers.IntegerField(min_value=50, max_value=60_000, required=False)
    timeout_s = serializers.FloatField(min_value=1, max_value=300, required=False)
    max_output_tokens = serializers.IntegerField(min_value=1, max_value=32_768, required=False)
    temperature = serializers.FloatField(min_value=0, max_value=2, required=False)


def _routes(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=RouteSerializer(), min_length=1, max_length=5, required=False, help_text=help_text
    )


class AgentSerializer(serializers.ModelSerializer[Agent]):
    name = serializers.CharField(max_length=100)
    instructions = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
    voice = serializers.CharField(max_length=100, required=False, allow_blank=True)
    language = serializers.CharField(max_length=16, required=False)
    vocabulary = serializers.ListField(
        child=serializers.CharField(max_length=MAX_TERM_CHARS),
        required=False,
        max_length=MAX_VOCABULARY_TERMS,
        help_text="Product and proper names the speech-to-text should spell right; every STT "
        "route is told them (faster-whisper hotwords, OpenAI's transcription prompt).",
    )
    stt_routes = _routes("Speech to text, in order of preference.")
    llm_routes = _routes("Language models, in order of preference.")
    tts_routes = _routes("Text to speech, in order of preference.")
    turn_detection = serializers.DictField(
        required=False,
        allow_null=True,
        help_text="OpenAI's turn_detection object (server_vad), or null for manual commits.",
    )
    builtin_tools = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=20
    )
    webhook_tools = serializers.SlugRelatedField(
        slug_field="name",
        many=True,
        required=False,
        queryset=WebhookTool.objects.all(),
        help_text="Names of the organization's webhook tools this agent may call.",
    )
    max_output_tokens = serializers.IntegerField(
        min_value=1, max_value=32_768, required=False, allow_null=True
    )
    memory_enabled = serializers.BooleanField(
        required=False,
        help_text="Put summaries of the end user's earlier conversations into the prompt, for "
        "end users the organization vouches for (a secret key's ?user=, or a client secret "
        "minted for that user); never for a publishable key's visitors.",
    )
    public_overrides = serializers.ListField(
        child=serializers.ChoiceField(choices=PUBLIC_OVERRIDABLE),
        required=False,
        max_length=len(PUBLIC_OVERRIDABLE),
        help_text="Session fields that clients with a publishable key may change with "
        "session.update, response.create or system items; default none (they may change "
        "audio formats, voice and turn detection only). Secret keys and client secrets may "
        "change every field.",
    )
    speculation = serializers.ChoiceField(
        choices=list(SPECULATION_MODES),
        required=False,
        help_text="How early a turn is transcribed and answered before it has surely ended: "
        "eager guesses at every pause (fastest; with a remote STT each guess is a billed "
        "request for the whole utterance so far), phrases uploads each phrase once (every "
        "second of audio billed once, a request per phrase) and answers one guess per turn, "
        "near the end-of-turn silence, thrifty makes one guess near the end of the silence "
        "(about one request of each kind per turn, the slowest to answer), off waits for "
        "the end; "
        "auto (default) is eager with the local STT and thrifty with a remote one.",
    )
    # Declared, so that DRF adds no uniqueness check of its own: the service moves the default.
    is_default = serializers.BooleanField(
        required=False, help_text="The agent sessions use when they name none; exactly one is."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The setting was removed: AURA stores no audio, and a client that asks for it must
        # not believe it is kept (false, the only true answer, is accepted and ignored).
        if self.initial_data.get("audio_retention") not in (None, False):
            raise serializers.ValidationError(
                {"audio_retention": "AURA stores no audio: audio retention does not exist."}
            )
        return attrs

    class Meta:
        model = Agent
        fields = ["id", "name", *AGENT_FIELDS, "webhook_tools", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class AgentFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", max_length=100)
    is_default = django_filters.BooleanFilter()
    memory_enabled = django_filters.BooleanFilter()

    class Meta:
        model = Agent
        fields = ["name", "is_default", "memory_enabled"]


def _settings(validated: dict[str, Any]) -> dict[str, Any]:
    values = dict(validated)
    for stage in ("stt_routes", "llm_routes", "tts_routes"):
        if stage in values:
            values[stage] = [dict(route) for route in values[stage]]
    if "webhook_tools" in values:
        values["webhook_tools"] = [tool.name for tool in values["webhook_tools"]]
    return values


@extend_schema(tags=["agents"])
class AgentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, OrganizationViewSet
):
    """Agents of the organization. Every setting is checked as a session would check it."""

    required_scope = "agents"
    serializer_class = AgentSerializer
    filterset_class = AgentFilter
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["name"]
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Agent]:
        return Agent.objects.prefetch_related("webhook_tools")

    @extend_schema(responses={201: AgentSerializer})
    def create(self, request: Request) -> Response:
        params = AgentSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        agent = agent_create(**_settings(params.validated_data))
        return created(AgentSerializer(agent).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        agent = self.get_object()
        params = AgentSerializer(agent, data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        agent = agent_update(agent=agent, **_settings(params.validated_data))
        return Response(AgentSerializer(agent).data)

    def perform_destroy(self, instance: Agent) -> None:
        agent_delete(agent=instance)
