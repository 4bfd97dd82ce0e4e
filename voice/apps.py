from django.apps import AppConfig


class VoiceConfig(AppConfig):
    name = "voice"
    verbose_name = "Voice"

    def ready(self) -> None:
        from django.conf import settings

        from voice.engine.addresses import configure_resolution

        # The engine reads no settings: hand it the DNS pool's size and time limit.
        configure_resolution(
            workers=settings.AURA_DNS_WORKERS, timeout_s=settings.AURA_DNS_TIMEOUT_SECONDS
        )
