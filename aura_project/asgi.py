"""ASGI entry point served by daphne (or uvicorn): HTTP through Django, WebSockets through
Channels."""

import os

from django.core.asgi import get_asgi_application

# The serving entry point defaults to production, which refuses to start without a real secret
# and host list; `make run` and the tests name their settings (docs/deployment/configuration.md).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aura_project.settings.prod")

# Django must be set up before anything imports models (consumers, middleware).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from voice.engine.assembly import warm_up_in_thread  # noqa: E402
from voice.realtime.auth import RealtimeAuthMiddleware  # noqa: E402
from voice.routing import websocket_urlpatterns  # noqa: E402

if settings.AURA_WARM_UP_LOCAL_MODELS:
    # Before serving: loading a model inside a connection would stall every other one.
    warm_up_in_thread()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # No AllowedHostsOriginValidator: browsers on any tenant site connect with pk_ keys,
        # whose allowed origins are checked per key; server clients send no Origin at all.
        "websocket": RealtimeAuthMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
