"""Error responses for plain HTTP: problem JSON for API clients, a small page for people."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from core.api.problems import PROBLEM_CONTENT_TYPE, problem_document
from core.errors import AuraError


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/v1/")) or "json" in request.headers.get("Accept", "")


def error_response(request: HttpRequest, error: AuraError, *, status: int) -> HttpResponse:
    if wants_json(request):
        return JsonResponse(
            problem_document(error, status=status),
            status=status,
            content_type=PROBLEM_CONTENT_TYPE,
        )
    body = render_to_string("errors/error.html", {"status": status, "error": error})
    return HttpResponse(body, status=status)
