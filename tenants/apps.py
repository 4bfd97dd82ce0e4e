from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Organizations"

    def ready(self) -> None:
        # Connects the receiver that records each migrated schema's state.
        from tenants import migration_state  # noqa: F401
