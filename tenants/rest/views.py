"""Base classes of the API's views: the key's organization's schema for exactly one request."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_tenants.utils import schema_context
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from core.api.problems import PROBLEM_CONTENT_TYPE, problem_document
from core.errors import NotFoundError
from tenants.rest.permissions import OrganizationScope, PlatformStaff
from tenants.selectors import ResolvedKey


# Model-agnostic bases: each subclass serves a model (or none) of its own.
class OrganizationViewSet(GenericViewSet[Any]):
    """Endpoints that act inside the calling key's organization.

    After authentication, scope check and rate limit, the request runs in the organization's
    schema, whatever host it came in on; the schema the connection had is restored after it.
    """

    permission_classes = [OrganizationScope]
    required_scope = ""
    _schema: AbstractContextManager[None] | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        key = request.auth
        assert isinstance(key, ResolvedKey)  # OrganizationScope let only such a key through
        self._schema = schema_context(key.tenant.schema_name)
        self._schema.__enter__()

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        try:
            return super().finalize_response(request, response, *args, **kwargs)
        finally:
            if self._schema is not None:
                self._schema.__exit__(None, None, None)
                self._schema = None

    @property
    def api_key(self) -> ResolvedKey:
        key = self.request.auth
        assert isinstance(key, ResolvedKey)
        return key


class PlatformViewSet(GenericViewSet[Any]):
    """Endpoints of the platform itself (public schema), for staff keys only."""

    permission_classes = [PlatformStaff]


def created(data: Any) -> Response:
    return Response(data, status=201)


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Unknown paths under /api/ answer in the API's error format, not with an HTML page."""
    error = NotFoundError(f"No API endpoint at {request.path}.", code="unknown_endpoint")
    return JsonResponse(
        problem_document(error, status=404), status=404, content_type=PROBLEM_CONTENT_TYPE
    )
