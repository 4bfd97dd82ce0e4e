"""A tenant's webhook endpoint for tests: a real HTTP server that verifies AURA's signature."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from voice.webhooks import MAX_RESPONSE_BYTES

SIGNING_SECRET = "whsec_0123456789abcdef"


@dataclass
class OrderService:
    """Answers order lookups by path; misbehaves on /redirect, /broken, /slow and /huge."""

    base_url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        timestamp = request.headers["X-Aura-Timestamp"]
        expected = hmac.new(
            SIGNING_SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        )
        verified = hmac.compare_digest(
            request.headers["X-Aura-Signature"], "v1=" + expected.hexdigest()
        )
        self.received.append({"path": request.path, "verified": verified, **json.loads(body)})
        if request.path == "/redirect":
            raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")
        if request.path == "/broken":
            return web.json_response({"error": "db down"}, status=500)
        if request.path == "/slow":
            await asyncio.sleep(5)
        if request.path == "/huge":
            return web.Response(body=b"x" * (MAX_RESPONSE_BYTES + 10))
        order = json.loads(body)["arguments"]["order"]
        return web.json_response({"order": order, "status": "shipped", "verified": verified})


@contextlib.asynccontextmanager
async def serve_order_service() -> AsyncIterator[OrderService]:
    """The service on a free 127.0.0.1 port, in the running event loop."""
    service = OrderService()
    app = web.Application()
    app.router.add_post("/{tail:.*}", service.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    port = server.sockets[0].getsockname()[1]
    service.base_url = f"http://127.0.0.1:{port}"
    try:
        yield service
    finally:
        await runner.cleanup()
