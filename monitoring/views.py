"""/healthz (the process is alive), /readyz (it can serve: database, Redis, models) and
/metrics (Prometheus text format, for the operator only)."""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitoring.health import readiness
from monitoring.metrics import scrape_registry


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


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """With AURA_METRICS_TOKEN set, a matching bearer token is required; without it, only
    the machine itself (a scraper on loopback) may read the metrics."""
    if not _may_read_metrics(request):
        return JsonResponse({"error": "metrics are for the operator"}, status=403)
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)


def _may_read_metrics(request: HttpRequest) -> bool:
    token: str = settings.AURA_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False
