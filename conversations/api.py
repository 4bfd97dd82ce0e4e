"""REST endpoints of conversations and their messages (the key's organization's schema)."""

from __future__ import annotations

import uuid

import django_filters
from django.db.models import Count, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from aura_project.api.errors import NotFoundError
from aura_project.api.filters import UtcDateTimeFilter
from aura_project.api.views import OrganizationViewSet
from conversations.models import Conversation, Message
from conversations.selectors import conversations_matching, messages_matching
from conversations.services import conversation_delete

SEARCH_HELP = (
    "Full-text search of message text (PostgreSQL, English stemming), in web-search syntax: "
    'words, "quoted phrases", OR, -excluded.'
)


class ConversationSerializer(serializers.ModelSerializer[Conversation]):
    message_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "agent",
            "session_id",
            "end_user_id",
            "status",
            "summary",
            "message_count",
            "started_at",
            "ended_at",
        ]
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer[Message]):
    tool_calls = serializers.ListField(child=serializers.DictField(), read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation",
            "position",
            "role",
            "text",
            "item_id",
            "truncated",
            "tool_calls",
            "tool_call_id",
            "created_at",
        ]
        read_only_fields = fields


class ConversationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Conversation.Status.choices)
    agent = django_filters.NumberFilter(field_name="agent_id", min_value=1)
    end_user_id = django_filters.CharFilter(max_length=200)
    session_id = django_filters.CharFilter(max_length=64)
    started_after = UtcDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = UtcDateTimeFilter(field_name="started_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="search", max_length=500, help_text=SEARCH_HELP)

    class Meta:
        model = Conversation
        fields = ["status", "agent", "end_user_id", "session_id"]

    def search(
        self, queryset: QuerySet[Conversation], name: str, value: str
    ) -> QuerySet[Conversation]:
        return queryset.filter(pk__in=conversations_matching(value).values("pk"))


class MessageFilter(django_filters.FilterSet):
    conversation = django_filters.UUIDFilter(field_name="conversation_id")
    role = django_filters.ChoiceFilter(choices=Message.Role.choices)
    truncated = django_filters.BooleanFilter()
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="search", max_length=500, help_text=SEARCH_HELP)

    class Meta:
        model = Message
        fields = ["conversation", "role", "truncated"]

    def search(self, queryset: QuerySet[Message], name: str, value: str) -> QuerySet[Message]:
        return queryset.filter(pk__in=messages_matching(value).values("pk"))


@extend_schema(tags=["conversations"])
class ConversationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, OrganizationViewSet
):
    """Conversations of the organization, newest first."""

    required_scope = "conversations"
    serializer_class = ConversationSerializer
    filterset_class = ConversationFilter
    ordering_fields = ["started_at", "ended_at"]
    ordering = ["-started_at"]
    lookup_value_regex = "[0-9a-fA-F-]{36}"

    def get_queryset(self) -> QuerySet[Conversation]:
        return Conversation.objects.annotate(message_count=Count("messages"))

    def perform_destroy(self, instance: Conversation) -> None:
        conversation_delete(conversation=instance)


@extend_schema(tags=["conversations"])
class MessageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    """Messages of every conversation; filter by `conversation` for one transcript."""

    required_scope = "conversations"
    serializer_class = MessageSerializer
    filterset_class = MessageFilter
    ordering_fields = ["created_at", "position"]
    ordering = ["conversation", "position"]
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Message]:
        return Message.objects.all()


@extend_schema(tags=["conversations"], responses={200: MessageSerializer(many=True)})
class ConversationMessagesViewSet(mixins.ListModelMixin, OrganizationViewSet):
    """The transcript of one conversation, in order."""

    required_scope = "conversations"
    serializer_class = MessageSerializer
    filterset_class = MessageFilter
    ordering_fields = ["position", "created_at"]
    ordering = ["position"]

    def get_queryset(self) -> QuerySet[Message]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular's schema generation
            return Message.objects.none()
        return Message.objects.filter(conversation_id=self.kwargs["conversation_id"])

    def list(self, request: Request, *args: object, **kwargs: object) -> Response:
        # An unknown (or another organization's) conversation is a 404, not an empty page.
        try:
            conversation_id = uuid.UUID(self.kwargs["conversation_id"])
        except ValueError as error:
            raise NotFoundError("No such conversation.") from error
        if not Conversation.objects.filter(pk=conversation_id).exists():
            raise NotFoundError("No such conversation.")
        return super().list(request, *args, **kwargs)
