"""REST endpoints of conversations and their messages (the key's organization's schema)."""

from __future__ import annotations

import uuid

import django_filters
from django.db.models import Count, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from conversations.models import Conversation, Feedback, Message
from conversations.selectors import conversations_matching, messages_matching
from conversations.services import FEEDBACK_COMMENT_MAX_CHARS, conversation_delete, feedback_record
from core.api.filters import UtcDateTimeFilter
from core.errors import NotFoundError
from monitoring.metrics import FEEDBACK
from tenants.rest.views import OrganizationViewSet, created

SEARCH_HELP = (
    "Full-text search of message text (PostgreSQL, English stemming), in web-search syntax: "
    'words, "quoted phrases", OR, -excluded.'
)


class ConversationSerializer(serializers.ModelSerializer[Conversation]):
    message_count = serializers.IntegerField(read_only=True)
    # Empty while the conversation is still going: the schema must say so.
    outcome = serializers.ChoiceField(
        choices=Conversation.Outcome.choices,
        allow_blank=True,
        read_only=True,
        help_text="How the conversation ended; empty while it is active.",
    )

    class Meta:
        model = Conversation
        fields = [
            "id",
            "agent",
            "session_id",
            "end_user_id",
            "status",
            "outcome",
            "outcome_reason",
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


class FeedbackSerializer(serializers.ModelSerializer[Feedback]):
    class Meta:
        model = Feedback
        fields = [
            "id",
            "conversation",
            "item_id",
            "message",
            "rating",
            "comment",
            "source",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class FeedbackCreateSerializer(serializers.Serializer[dict[str, str]]):
    rating = serializers.ChoiceField(choices=Feedback.Rating.choices)
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=FEEDBACK_COMMENT_MAX_CHARS,
        trim_whitespace=True,
    )
    item_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="The rated answer's item id; omit to rate the whole conversation.",
    )


class FeedbackFilter(django_filters.FilterSet):
    conversation = django_filters.UUIDFilter(field_name="conversation_id")
    rating = django_filters.ChoiceFilter(choices=Feedback.Rating.choices)
    source = django_filters.ChoiceFilter(choices=Feedback.Source.choices)
    target = django_filters.ChoiceFilter(
        choices=[("conversation", "Conversation"), ("answer", "Answer")], method="by_target"
    )
    has_comment = django_filters.BooleanFilter(method="by_comment")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Feedback
        fields = ["conversation", "rating", "source"]

    def by_target(self, queryset: QuerySet[Feedback], name: str, value: str) -> QuerySet[Feedback]:
        if value == "conversation":
            return queryset.filter(item_id="")
        return queryset.exclude(item_id="")

    def by_comment(
        self, queryset: QuerySet[Feedback], name: str, value: bool
    ) -> QuerySet[Feedback]:
        return queryset.exclude(comment="") if value else queryset.filter(comment="")


class ConversationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Conversation.Status.choices)
    outcome = django_filters.ChoiceFilter(choices=Conversation.Outcome.choices)
    agent = django_filters.NumberFilter(field_name="agent_id", min_value=1)
    end_user_id = django_filters.CharFilter(max_length=200)
    session_id = django_filters.CharFilter(max_length=64)
    started_after = UtcDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = UtcDateTimeFilter(field_name="started_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="search", max_length=500, help_text=SEARCH_HELP)

    class Meta:
        model = Conversation
        fields = ["status", "outcome", "agent", "end_user_id", "session_id"]

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


def _conversation_or_404(conversation_id: str) -> Conversation:
    # An unknown (or another organization's) conversation is a 404.
    try:
        return Conversation.objects.get(pk=uuid.UUID(conversation_id))
    except (ValueError, Conversation.DoesNotExist) as error:
        raise NotFoundError("No such conversation.") from error


@extend_schema(tags=["conversations"])
class FeedbackViewSet(mixins.ListModelMixin, OrganizationViewSet):
    """Ratings (thumbs up or down, maybe a comment) of every conversation, newest first."""

    required_scope = "conversations"
    serializer_class = FeedbackSerializer
    filterset_class = FeedbackFilter
    ordering_fields = ["created_at", "updated_at"]
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[Feedback]:
        return Feedback.objects.all()


@extend_schema(tags=["conversations"])
class ConversationFeedbackViewSet(mixins.ListModelMixin, OrganizationViewSet):
    """The ratings of one conversation; POST rates it (or one answer) for a server-side
    integration. Visitors rate their own conversation over the realtime socket instead
    (`aura.feedback`): a publishable key has no access here."""

    required_scope = "conversations"
    serializer_class = FeedbackSerializer
    filterset_class = FeedbackFilter
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[Feedback]:
        if getattr(self, "swagger_fake_view", False):
            return Feedback.objects.none()
        return Feedback.objects.filter(conversation_id=self.kwargs["conversation_id"])

    def list(self, request: Request, *args: object, **kwargs: object) -> Response:
        _conversation_or_404(self.kwargs["conversation_id"])
        return super().list(request, *args, **kwargs)

    @extend_schema(request=FeedbackCreateSerializer, responses={201: FeedbackSerializer})
    def create(self, request: Request, conversation_id: str) -> Response:
        conversation = _conversation_or_404(conversation_id)
        params = FeedbackCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        item_id = params.validated_data.get("item_id", "")
        if (
            item_id
            and not conversation.messages.filter(
                item_id=item_id, role=Message.Role.ASSISTANT
            ).exists()
        ):
            raise NotFoundError("No such answer in this conversation.", code="unknown_item")
        feedback = feedback_record(
            conversation=conversation,
            rating=params.validated_data["rating"],
            comment=params.validated_data.get("comment", ""),
            item_id=item_id,
            source=Feedback.Source.API,
        )
        FEEDBACK.labels(
            rating=feedback.rating, target="answer" if item_id else "conversation"
        ).inc()
        return created(FeedbackSerializer(feedback).data)
