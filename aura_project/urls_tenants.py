"""URLs served on an organization's own domain (its schema is active)."""

from django.urls import include, path, re_path
from django.views.generic import RedirectView

from core.admin_site import tenant_admin_site
from tenants import views
from voice import views as voice_views

urlpatterns = [
    path("", views.organization_home, name="organization-home"),
    # The usage pages moved with their models from `conversations` to `monitoring`; the old
    # addresses (the dashboard's is in the docs and in bookmarks) lead to the new ones.
    re_path(
        r"^admin/conversations/(?P<page>(?:usagerecord|usagerollup|activityrollup)/.*)$",
        RedirectView.as_view(url="/admin/monitoring/%(page)s", query_string=True, permanent=True),
    ),
    # This organization's own admin site; the platform's (Celery beat, organizations) is not
    # served on an organization's domain at all.
    path("admin/", tenant_admin_site.urls),
    path("api/", include("aura_project.urls_api")),
    path("v1/realtime/client_secrets", voice_views.client_secret_create, name="client-secrets"),
]
