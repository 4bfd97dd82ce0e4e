"""What socket tests do as a client of /v1/realtime: add a user's text, wait for an event."""

from __future__ import annotations

import asyncio
import json
from typing import Any


async def next_event(socket: Any, kind: str, *, timeout_s: float = 30.0) -> Any:
    """The next server event of type `kind` (those before it are skipped)."""
    async with asyncio.timeout(timeout_s):
        while True:
            event = json.loads(await socket.recv())
            if event["type"] == kind:
                return event


async def send_user_text(socket: Any, text: str) -> None:
    """Add a user message holding `text` to the conversation (no response asked for)."""
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    await socket.send(json.dumps({"type": "conversation.item.create", "item": item}))
