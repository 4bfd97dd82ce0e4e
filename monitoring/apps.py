from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"

    def ready(self) -> None:
        from core.admin_site import tenant_admin_site
        from monitoring.dashboard import dashboard_today

        # The organization's admin opens on its day (the site lives below the apps).
        tenant_admin_site.dashboard = dashboard_today
