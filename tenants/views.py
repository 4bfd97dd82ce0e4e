"""Pages: the platform's landing page and each organization's home page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def platform_home(request: HttpRequest) -> HttpResponse:
    return render(request, "platform/home.html")


def organization_home(request: HttpRequest) -> HttpResponse:
    return render(request, "organization/home.html", {"organization": request.tenant})  # type: ignore[attr-defined]
