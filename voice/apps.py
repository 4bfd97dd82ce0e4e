from django.apps import AppConfig


class VoiceConfig(AppConfig):
    name = "voice"
    verbose_name = "Voice"

    def ready(self) -> None:
        from django.conf import settings

        from conversations.summaries import summarizer_register
        from voice import tenant_receivers
        from voice.engine.net.addresses import configure_resolution
        from voice.summaries import agent_summarize

        # Seeds new organizations and ends the sessions of disabled keys and organizations.
        tenant_receivers.connect()
        # Conversations fold old messages into a summary with the agent's own model.
        summarizer_register(agent_summarize)

        # The engine reads no settings: hand it the DNS pool's size and time limit.
        configure_resolution(
            workers=settings.AURA_DNS_WORKERS, timeout_s=settings.AURA_DNS_TIMEOUT_SECONDS
        )
