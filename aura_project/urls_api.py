"""The REST API, served on every host (the key decides the organization): /api/v1/…, the
OpenAPI document at /api/schema/ and its browsable docs at /api/docs/.

To add endpoints: register a viewset on `router` (or append to `v1_patterns`) in this file.
"""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from conversations.api import (
    ConversationFeedbackViewSet,
    ConversationMessagesViewSet,
    ConversationViewSet,
    FeedbackViewSet,
    MessageViewSet,
)
from monitoring.api import (
    ActivityRollupViewSet,
    UsageRecordViewSet,
    UsageRollupViewSet,
    UsageSummaryViewSet,
)
from tenants.api import ApiKeyViewSet, PlatformOrganizationViewSet
from tenants.rest.views import api_not_found
from voice.api.agents import AgentViewSet
from voice.api.credentials import ProviderCredentialViewSet
from voice.api.tools import WebhookToolViewSet

router = SimpleRouter(trailing_slash=False)
router.register("agents", AgentViewSet, basename="agent")
router.register("keys", ApiKeyViewSet, basename="api-key")
router.register("conversations", ConversationViewSet, basename="conversation")
router.register(
    r"conversations/(?P<conversation_id>[0-9a-fA-F-]{36})/messages",
    ConversationMessagesViewSet,
    basename="conversation-message",
)
router.register(
    r"conversations/(?P<conversation_id>[0-9a-fA-F-]{36})/feedback",
    ConversationFeedbackViewSet,
    basename="conversation-feedback",
)
router.register("messages", MessageViewSet, basename="message")
router.register("feedback", FeedbackViewSet, basename="feedback")
router.register("tools", WebhookToolViewSet, basename="webhook-tool")
router.register("provider-credentials", ProviderCredentialViewSet, basename="provider-credential")
router.register("usage/records", UsageRecordViewSet, basename="usage-record")
router.register("usage/rollups", UsageRollupViewSet, basename="usage-rollup")
router.register("usage/activity", ActivityRollupViewSet, basename="usage-activity")
router.register(
    "platform/organizations", PlatformOrganizationViewSet, basename="platform-organization"
)

v1_patterns = [
    *router.urls,
    path(
        "usage/summary",
        UsageSummaryViewSet.as_view({"get": "retrieve"}),
        name="usage-summary",
    ),
]

urlpatterns = [
    path("v1/", include(v1_patterns)),
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="api-schema"),
    re_path(r"^docs/?$", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^redoc/?$", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    re_path(r"^[\s\S]*$", api_not_found),
]
