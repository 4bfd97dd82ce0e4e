"""URLs of the platform itself (public schema: localhost, 127.0.0.1, the platform domain)."""

from django.contrib import admin
from django.urls import include, path

from tenants import views
from voice import views as voice_views

urlpatterns = [
    path("", views.platform_home, name="platform-home"),
    # The platform's admin site (core.admin_site.PlatformAdminSite is `admin.site`).
    path("admin/", admin.site.urls),
    path("api/", include("aura_project.urls_api")),
    path("v1/realtime/client_secrets", voice_views.client_secret_create, name="client-secrets"),
]
