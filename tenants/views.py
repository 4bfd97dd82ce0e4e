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
    origin = f"{request.scheme}://{request.get_host()}".lower()
    demo = settings.AURA_DEMO_PAGES
    widget = demo_widget_key_ensure(organization=organization) if demo else None
    # The key works from its configured origins only: elsewhere the page says so instead.
    on_demo_origin = widget is not None and origin in widget.origins
    return render(
        request,
        "organization/home.html",
        {
            "organization": organization,
            "widget_key": widget.key if widget and on_demo_origin else None,
            "widget_origins": widget.origins if widget else [],
            "revoked": demo and widget is None,
            "origin": origin,
            "demo": demo,
        },
    )
