"""The REST API (/api/v1/, core/api/, tenants/rest/): DRF, its OpenAPI schema and its limits."""

from __future__ import annotations

from .environment import env

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.rest.authentication.SecretKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.rest.permissions.OrganizationScope"],
    "DEFAULT_THROTTLE_CLASSES": ["tenants.rest.throttling.OrganizationKeyRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.AuraPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "core.api.exceptions.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AURA REST API",
    "DESCRIPTION": "Manage an organization's agents, keys, conversations, tools and provider "
    "credentials. Authenticate with `Authorization: Bearer sk_…`. Errors are RFC 9457 problem "
    "documents. See docs/api/rest-endpoints.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.add_problem_responses",
    ],
}
# Largest JSON body the API reads.
AURA_API_MAX_BODY_BYTES: int = env.int("AURA_API_MAX_BODY_BYTES", default=256 * 1024)
# Requests per key and per organization ("N/second|minute|hour"), counted in Redis.
AURA_API_RATE_LIMIT_PER_KEY: str = env("AURA_API_RATE_LIMIT_PER_KEY", default="600/minute")
AURA_API_RATE_LIMIT_PER_ORGANIZATION: str = env(
    "AURA_API_RATE_LIMIT_PER_ORGANIZATION", default="1200/minute"
)
AURA_API_RATE_LIMIT_NAMESPACE: str = env("AURA_API_RATE_LIMIT_NAMESPACE", default="aura")
