from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Organizations"

    def ready(self) -> None:
        # Connects the receiver that records each migrated schema's state.
        from tenants import migration_state  # noqa: F401
        from tenants.signals import organization_registered
        from tenants.tasks import queue_provisioning

        # A registered organization's schema is built by a Celery task, once committed.
        organization_registered.connect(queue_provisioning, dispatch_uid="tenants.provisioning")
