"""The /v1/realtime WebSocket: a thin driver of `RealtimeTransport` (which drives the engine)."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from core.client_address import scope_client_address
from tenants.errors import AuthenticationError
from voice.engine.assembly import build_voice_session
from voice.engine.errors import AuraError
from voice.realtime import shutdown
from voice.realtime.auth import RealtimeCredentials, scope_auth_error, scope_credentials
from voice.realtime.control import key_group, organization_group, session_group
from voice.realtime.dispatch_loop import dispatch_messages, forget_channel
from voice.realtime.limits import connect_admitted
from voice.realtime.quality_signals import record_refusal
from voice.realtime.server_events import error_event
from voice.realtime.server_link import ServerLink, server_link
from voice.realtime.transport import RealtimeTransport
from voice.realtime.wire import (
    CLOSE_CODES,
    CLOSE_ENDED_BY_OPERATOR,
    CLOSE_SERVER_ERROR,
    CLOSE_SERVICE_RESTART,
    ConnectOptions,
)

logger = logging.getLogger(__name__)


def connect_options(scope: Mapping[str, Any]) -> ConnectOptions:
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
        client_cancels_echo=first("aec") == "1",
        model=first("model") or "aura-local",
    )


def credential_groups(credentials: RealtimeCredentials) -> tuple[str, ...]:
    """The groups through which revoking the key or suspending the organization ends this
    session (for a client secret, the key that minted it)."""
    groups = [organization_group(credentials.tenant.organization_id)]
    if credentials.key_id is not None:
        groups.append(key_group(credentials.key_id))
    return tuple(groups)


def close_code_for(error: AuraError) -> int:
    return CLOSE_CODES.get(error.error_type, CLOSE_SERVER_ERROR)


class ServerShuttingDownError(AuraError):
    code = "server_shutting_down"
    error_type = "server_error"


class RealtimeConsumer(AsyncWebsocketConsumer):
    transport: RealtimeTransport | None = None
    groups_joined: tuple[str, ...] = ()
    link: ServerLink | None = None

    async def connect(self) -> None:
        # Browsers offer "realtime" beside the key subprotocol; echo it so they accept us.
        subprotocol = "realtime" if "realtime" in self.scope.get("subprotocols", ()) else None
        await self.accept(subprotocol)
        self.link = server_link(
            self.scope,
            self.base_send,
            max_unsent_bytes=settings.AURA_REALTIME_MAX_UNSENT_BYTES,
        )
        if shutdown.draining():
            await self._refuse(
                ServerShuttingDownError("This server is restarting; connect again."),
                close_code=CLOSE_SERVICE_RESTART,
            )
            return
        credentials = scope_credentials(self.scope)
        address = scope_client_address(self.scope)
        try:
            await connect_admitted(
                kind=credentials.kind if credentials else None,
                key_id=credentials.key_id if credentials else None,
                address=address,
            )
        except AuraError as error:
            await self._refuse(error)
            return
        refusal = scope_auth_error(self.scope)
        if refusal is not None or credentials is None:
            await self._refuse(refusal or AuthenticationError("Invalid API key."))
            return
        # Before the session opens, so that a key revoked meanwhile cannot miss it.
        await self._join(*credential_groups(credentials))
        self.transport = RealtimeTransport(
            credentials=credentials,
            socket=self,
            options=connect_options(self.scope),
            build_session=build_voice_session,
            client_address=address,
        )
        try:
            await self.transport.open()
        except AuraError as error:
            await self.transport.close()
            self.transport = None
            await self._refuse(error)
            return
        await self._join(session_group(self.transport.session_id))

    async def _join(self, *groups: str) -> None:
        """Control messages to these groups (voice/realtime/control.py) reach this socket."""
        if self.channel_layer is None:
            return
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined += groups

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
        # The session first: leaving the groups talks to Redis, and a failure there must not
        # leave the session open (its lease renewed for ever, its writes not drained).
        transport, self.transport = self.transport, None
        try:
            if transport is not None:
                await transport.close()
        finally:
            await self._leave_groups()

    async def _leave_groups(self) -> None:
        groups, self.groups_joined = self.groups_joined, ()
        if self.channel_layer is None:
            return
        for group in groups:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:
                logger.warning("could not leave channel-layer group %s", group, exc_info=True)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Channels' consumer loop (AsyncConsumer.__call__), but one whose waits end for sure
        when it stops (voice/realtime/dispatch_loop.py); and a last resort: a consumer that
        ends without its disconnect running to the end (daphne cancels an application that
        outlives --application-close-timeout; uvicorn's graceful shutdown timeout) still closes
        its session, in a task of its own."""
        self.scope = scope
        layer = get_channel_layer(self.channel_layer_alias)
        self.channel_layer = layer  # type: ignore[assignment]  # None without one, as in Channels
        sources = [receive]
        if layer is not None:
            self.channel_name = await layer.new_channel()
            sources.append(functools.partial(layer.receive, self.channel_name))
        self.base_send = send
        try:
            await dispatch_messages(sources, self.dispatch)
        except StopConsumer:
            pass
        finally:
            if layer is not None:
                forget_channel(layer, self.channel_name)
            if self.transport is not None:
                transport, self.transport = self.transport, None
                transport.close_soon()

    # Channel-layer control messages.
    async def session_end(self, message: dict[str, Any]) -> None:
        if self.transport is not None:
            await self.transport.end_by_operator(
                str(message.get("reason") or ""),
                code=str(message.get("code") or "session_ended"),
                close_code=int(message.get("close_code") or CLOSE_ENDED_BY_OPERATOR),
            )

    async def session_taken_over(self, message: dict[str, Any]) -> None:
        if self.transport is not None:
            await self.transport.taken_over(str(message.get("socket_id") or ""))

    # The transport's Socket port.
    async def send_json(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(event, separators=(",", ":")))

    async def send_bytes(self, data: bytes) -> None:
        await self.send(bytes_data=data)

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        """Close with a reason (daphne drops it) and any standard code (autobahn refuses
        1008 and 1012 from a server), without waiting for the client's answer (uvicorn's
        `websockets` waits): through the server link where it can (server_link.py)."""
        if (
            isinstance(code, int)
            and code is not True
            and self.link is not None
            and self.link.close(code, reason or "")
        ):
            return
        await super().close(code=code, reason=reason)

    def unsent_bytes(self) -> int:
        return self.link.unsent_bytes() if self.link is not None else 0

    def abort(self) -> None:
        if self.link is not None:
            self.link.abort()

    async def _refuse(self, error: AuraError, *, close_code: int | None = None) -> None:
        await record_refusal(scope_credentials(self.scope), error)
        await self.send_json({"event_id": "event_refused", **error_event(error)})
        await self.close(code=close_code or close_code_for(error), reason=error.code)
