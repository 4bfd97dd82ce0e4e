"""The /v1/realtime WebSocket: a thin driver of `RealtimeTransport` (which drives the engine)."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer

from voice.engine.assembly import build_voice_session
from voice.engine.errors import AuraError
from voice.realtime.auth import SCOPE_AUTH_ERROR, SCOPE_CREDENTIALS
from voice.realtime.control import session_group
from voice.realtime.server_events import error_event
from voice.realtime.transport import (
    CLOSE_CODES,
    CLOSE_SERVER_ERROR,
    ConnectOptions,
    RealtimeTransport,
)

logger = logging.getLogger(__name__)


def connect_options(scope: dict[str, Any]) -> ConnectOptions:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))

    def first(name: str) -> str | None:
        values = query.get(name)
        return values[0][:200] if values else None

    extensions = first("aura") == "1"
    return ConnectOptions(
        agent=first("agent"),
        end_user_id=first("user") or "",
        resume=first("resume"),
        extensions=extensions,
        binary_audio=extensions and first("binary") == "1",
        model=first("model") or "aura-local",
    )


def close_code_for(error: AuraError) -> int:
    return CLOSE_CODES.get(error.error_type, CLOSE_SERVER_ERROR)


class RealtimeConsumer(AsyncWebsocketConsumer):
    transport: RealtimeTransport | None = None
    group: str | None = None

    async def connect(self) -> None:
        # Browsers offer "realtime" beside the key subprotocol; echo it so they accept us.
        subprotocol = "realtime" if "realtime" in self.scope.get("subprotocols", ()) else None
        await self.accept(subprotocol)
        refusal: AuraError | None = self.scope.get(SCOPE_AUTH_ERROR)
        if refusal is not None:
            await self._refuse(refusal)
            return
        self.transport = RealtimeTransport(
            credentials=self.scope[SCOPE_CREDENTIALS],
            socket=self,
            options=connect_options(self.scope),
            build_session=build_voice_session,
        )
        try:
            await self.transport.open()
        except AuraError as error:
            await self.transport.close()
            self.transport = None
            await self._refuse(error)
            return
        # Control messages for this session (voice/realtime/control.py) reach this process.
        if self.channel_layer is not None:
            self.group = session_group(self.transport.session_id)
            await self.channel_layer.group_add(self.group, self.channel_name)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch, without its database clean-up before every message.

        That clean-up hops to a thread for each frame (a tenth of the server's CPU at 100
        sessions) and protects nothing here: every database call goes through
        `tenants.db.in_schema`, which manages connections in its own worker thread.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.transport is None:
            return
        if text_data is not None:
            await self.transport.receive_text(text_data)
        elif bytes_data is not None:
            await self.transport.receive_bytes(bytes_data)

    async def disconnect(self, code: int) -> None:
        if self.group is not None and self.channel_layer is not None:
            group, self.group = self.group, None
            await self.channel_layer.group_discard(group, self.channel_name)
        if self.transport is not None:
            transport, self.transport = self.transport, None
            await transport.close()

    # Channel-layer control messages.
    async def session_end(self, message: dict[str, Any]) -> None:
        if self.transport is not None:
            await self.transport.end_by_operator(str(message.get("reason") or ""))

    # The transport's Socket port.
    async def send_json(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(event, separators=(",", ":")))

    async def send_bytes(self, data: bytes) -> None:
        await self.send(bytes_data=data)

    async def _refuse(self, error: AuraError) -> None:
        await self.send_json({"event_id": "event_refused", **error_event(error)})
        await self.close(code=close_code_for(error))
