"""Driving the embedded widget in Chromium: its flags, and reading its `stats` as it goes."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import pytest

CHROMIUM_FLAGS = (
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


async def stats(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(
        "() => document.querySelector('aura-voice-widget').stats"
    )
    return result


async def wait_for(page: Any, what: str, check: Any, *, timeout_s: float) -> dict[str, Any]:
    """Poll the widget's stats until `check(stats)` holds; fail with the stats otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        current = await stats(page)
        if check(current):
            return current
        if time.monotonic() > deadline:
            pytest.fail(
                f"timed out after {timeout_s:.0f} s waiting for {what}; widget stats:\n"
                + json.dumps(current, indent=1)[:6000]
            )
        await asyncio.sleep(0.2)


def answered_in_voice(current: dict[str, Any]) -> bool:
    audio = current["audio"]
    answered = any(
        entry["role"] == "assistant" and words(entry["full"]) for entry in current["transcript"]
    )
    # At least 300 ms of sound rendered by the playback worklet.
    sound = audio["playback"]["totalNonSilentSamples"] >= 0.3 * audio["contextRate"]
    return answered and sound
