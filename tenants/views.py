"""Pages: the platform's landing page and each organization's home page."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tenants.demo_widget import demo_widget_key_ensure


def platform_home(request: HttpRequest) -> HttpResponse:
    return render(request, "platform/home.html")


def organization_home(request: HttpRequest) -> HttpResponse:
    """The organization's demo page: its voice widget, with a publishable key for this origin
    (unless demo pages are off, as in production by default)."""
    organization = request.tenant  # type: ignore[attr-defined]
    origin = f"{request.scheme}://{request.get_host()}"
    demo = settings.AURA_DEMO_PAGES
    widget_key = demo_widget_key_ensure(organization=organization, origin=origin) if demo else None
    return render(
        request,
        "organization/home.html",
        {"organization": organization, "widget_key": widget_key, "origin": origin, "demo": demo},
    )
