"""Django's admin app with AURA's platform site as its default `admin.site`.

Apps that register on `admin.site` (django_celery_beat, auth, ...) therefore land on the
platform's admin, served on the platform's domains only; an organization's domain serves a
separate site that shows only what is registered on it explicitly (core/admin_site.py).
A module of its own: it is imported while the app registry loads, before models exist.
"""

from django.contrib.admin.apps import AdminConfig


class AuraAdminConfig(AdminConfig):
    default_site = "core.admin_site.PlatformAdminSite"
