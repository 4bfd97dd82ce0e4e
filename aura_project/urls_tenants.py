"""URLs served on an organization's own domain (its schema is active)."""

from django.urls import include, path

from core.admin_site import tenant_admin_site
from tenants import views
from voice import views as voice_views

urlpatterns = [
    path("", views.organization_home, name="organization-home"),
    # This organization's own admin site; the platform's (Celery beat, organizations) is not
    # served on an organization's domain at all.
    path("admin/", tenant_admin_site.urls),
    path("api/", include("aura_project.urls_api")),
    path("v1/realtime/client_secrets", voice_views.client_secret_create, name="client-secrets"),
]
