"""/healthz (the process is alive) and /readyz (it can serve: database, Redis, models)."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from monitoring.health import readiness


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = readiness()
    ready = all(checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
    )
