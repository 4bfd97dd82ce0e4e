"""URLs served on an organization's own domain (its schema is active)."""

from django.contrib import admin
from django.urls import include, path

from tenants import views
from voice import views as voice_views

urlpatterns = [
    path("", views.organization_home, name="organization-home"),
    path("admin/", admin.site.urls),
    path("api/", include("aura_project.urls_api")),
    path("v1/realtime/client_secrets", voice_views.client_secret_create, name="client-secrets"),
]
