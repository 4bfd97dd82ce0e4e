from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import path

from voice.consumers import RealtimeConsumer

if TYPE_CHECKING:
    from channels.routing import URLRouter, _ExtendedURLPattern

# Channels routes ASGI applications with Django's path(), which the stubs do not know:
# django-stubs types path() for views only, and the channels stubs want their own pattern type.
websocket_urlpatterns: list[_ExtendedURLPattern | URLRouter] = [
    path("v1/realtime", RealtimeConsumer.as_asgi()),  # type: ignore[arg-type, list-item]
]
