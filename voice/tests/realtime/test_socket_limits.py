"""The limits a realtime session lives under: per-organization session cap, per-key and
per-address caps and connect rates of public clients, responses per minute (automatic ones
included), idle timeout and maximum length, each ending with an `error` event and a documented
close code.

A daphne process of its own runs with tight limits, so the tests take seconds. The organization
is one that no other test opens sessions for: the cap counts an organization's live sessions
on every server, and other tests' sessions may still be closing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voice.tests.realtime.conftest import configure_agent, issue_key
from voice.tests.realtime.server import DaphneProcess, run_daphne

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

SESSION_CAP = 2
IDLE_S = 2
MAX_S = 6
CONNECTS_PER_MINUTE = 4
ORIGIN = "https://shop.example"


@pytest.fixture(scope="module")
def strict_server(django_db_setup: None, tenant_schemas: None) -> Iterator[DaphneProcess]:
    from django.db import connection

    limits = {
        "AURA_FREE_CONCURRENT_SESSIONS": str(SESSION_CAP),
        "AURA_SESSION_IDLE_TIMEOUT_SECONDS": str(IDLE_S),
        "AURA_SESSION_MAX_SECONDS": str(MAX_S),
        # Public clients: one session per address, a publishable key half the plan (one).
        "AURA_REALTIME_SESSIONS_PER_ADDRESS": "1",
        "AURA_REALTIME_PUBLISHABLE_KEY_SESSION_SHARE": "0.5",
        "AURA_REALTIME_CONNECTS_PER_ADDRESS": f"{CONNECTS_PER_MINUTE}/minute",
        "AURA_REALTIME_CONNECTS_PER_KEY": f"{CONNECTS_PER_MINUTE}/minute",
        "AURA_FREE_RESPONSES_PER_MINUTE": "1",
        # The tests are the proxy: each claims a client address of its own in X-Forwarded-For.
        "AURA_TRUSTED_PROXIES": "127.0.0.1",
        # Nothing here talks: the models need not load.
        "AURA_WARM_UP_LOCAL_MODELS": "false",
    }
    with run_daphne(database_name=connection.settings_dict["NAME"], extra_env=limits) as server:
        yield server


def client_address() -> str:
    """A client address (198.18.0.0/15, for tests) that no earlier run is likely to have used:
    rate windows outlive a run by a minute."""
    return f"198.{18 + secrets.randbelow(2)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def handshake(key: str, address: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}", "Origin": ORIGIN}
    if address is not None:
        headers["X-Forwarded-For"] = address
    return {"additional_headers": headers}


async def open_session(
    server: DaphneProcess, key: str, address: str | None = None
) -> ClientConnection:
    socket = await connect(f"{server.websocket_base_url}/realtime", **handshake(key, address))
    assert (await next_event(socket))["type"] == "session.created"
    return socket


async def refusal(server: DaphneProcess, key: str, address: str) -> tuple[str, int]:
    async with connect(
        f"{server.websocket_base_url}/realtime", **handshake(key, address)
    ) as socket:
        return await closing_error(socket, timeout_s=10)


async def next_event(socket: ClientConnection, *, timeout_s: float = 15.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        return dict(json.loads(await socket.recv()))


async def closing_error(socket: ClientConnection, *, timeout_s: float) -> tuple[str, int]:
    """The code of the error event that ends the session, and the close code that follows."""
    async with asyncio.timeout(timeout_s):
        while (event := await next_event(socket, timeout_s=timeout_s))["type"] != "error":
            pass
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None
    return event["error"]["code"], closed.value.rcvd.code


async def test_sessions_beyond_the_plan_cap_are_refused_until_one_ends(
    strict_server: DaphneProcess, org_gamma: Any
) -> None:
    await configure_agent(org_gamma, turn_detection=None)
    key = await issue_key(org_gamma)
    held = [await open_session(strict_server, key) for _ in range(SESSION_CAP)]
    try:
        async with connect(
            f"{strict_server.websocket_base_url}/realtime",
            additional_headers={"Authorization": f"Bearer {key}"},
        ) as refused:
            assert await closing_error(refused, timeout_s=10) == ("session_limit_reached", 4029)
        await held.pop().close()
        held.append(await open_session(strict_server, key))  # the freed slot is usable again
    finally:
        for socket in held:
            await socket.close()


async def test_a_silent_client_is_disconnected_after_the_idle_timeout(
    strict_server: DaphneProcess, org_gamma: Any
) -> None:
    await configure_agent(org_gamma, turn_detection=None)
    key = await issue_key(org_gamma)
    # The server's idle clock starts when it accepts the socket, before the client sees
    # session.created: timing from before the connect is the bound that always holds.
    started = asyncio.get_running_loop().time()
    socket = await open_session(strict_server, key)
    assert await closing_error(socket, timeout_s=IDLE_S + 5) == ("idle_timeout", 4008)
    assert asyncio.get_running_loop().time() - started >= IDLE_S


async def test_even_a_busy_session_ends_at_the_maximum_length(
    strict_server: DaphneProcess, org_gamma: Any
) -> None:
    await configure_agent(org_gamma, turn_detection=None)
    socket = await open_session(strict_server, await issue_key(org_gamma))

    async def keep_busy() -> None:
        while True:
            update = {"type": "session.update", "session": {"instructions": "Still here."}}
            await socket.send(json.dumps(update))
            await asyncio.sleep(0.5)

    busy = asyncio.create_task(keep_busy())
    try:
        assert await closing_error(socket, timeout_s=MAX_S + 5) == ("session_expired", 4010)
    finally:
        busy.cancel()
        await asyncio.gather(busy, return_exceptions=True)


async def issue_client_secret(organization: Any) -> str:
    from tenants.selectors import resolve_api_key
    from voice.realtime.client_secrets import client_secret_mint

    issuer = await sync_to_async(resolve_api_key)(await issue_key(organization))
    return (await client_secret_mint(issuer=issuer, ttl_s=600, session=None)).value


async def test_a_publishable_key_holds_at_most_its_share_of_the_plan(
    strict_server: DaphneProcess, org_gamma: Any
) -> None:
    await configure_agent(org_gamma, turn_detection=None)
    key = await issue_key(org_gamma, kind="pk", allowed_origins=[ORIGIN])
    held = await open_session(strict_server, key, client_address())
    try:
        # Another visitor, another address: the key's one slot (half of two) is taken.
        assert await refusal(strict_server, key, client_address()) == (
            "key_session_limit_reached",
            4029,
        )
    finally:
        await held.close()


async def test_one_address_holds_at_most_its_cap_of_public_sessions(
    strict_server: DaphneProcess, org_gamma: Any
) -> None:
    await configure_agent(org_gamma, turn_detection=None)
    address = client_address()
    held = await open_session(strict_server, await issue_client_secret(org_gamma), address)
    try:
        secret = await issue_client_secret(org_gamma)
        assert await refusal(strict_server, secret, address) == (
            "address_session_limit_reached",
            4029,
        )
        # The same secret from another address is served: the cap is the address's.
        await (await open_session(strict_server, secret, client_address())).close()
    finally:
        await held.close()


async def test_connection_attempts_from_one_address_are_rate_limited(
    strict_server: DaphneProcess, org_gamma: Any
) -> None:
    address = client_address()
    # Refused attempts count: guessing keys costs the same as connecting.
    for _ in range(CONNECTS_PER_MINUTE):
        assert (await refusal(strict_server, "pk_AAAAAAAA_guess", address))[1] == 4001
    assert await refusal(strict_server, "pk_AAAAAAAA_guess", address) == (
        "connect_rate_exceeded",
        4029,
    )
    # Another address is not held back by this one.
    assert (await refusal(strict_server, "pk_AAAAAAAA_guess", client_address()))[1] == 4001


async def test_connections_with_one_key_are_rate_limited_whatever_the_address(
    strict_server: DaphneProcess, org_gamma: Any
) -> None:
    await configure_agent(org_gamma, turn_detection=None)
    secret = await issue_client_secret(org_gamma)  # counts against the key that minted it
    for _ in range(CONNECTS_PER_MINUTE):
        async with connect(
            f"{strict_server.websocket_base_url}/realtime", **handshake(secret, client_address())
        ) as socket:
            first = await next_event(socket)
        assert first.get("error", {}).get("code") != "connect_rate_exceeded", first
    assert await refusal(strict_server, secret, client_address()) == (
        "connect_rate_exceeded",
        4029,
    )


def spoken_turn() -> bytes:
    """ "One, two, three." and a second of silence, as 24 kHz PCM16 (the default input)."""
    import numpy as np
    import soxr

    from conftest import TEST_AUDIO
    from voice.engine.audio.files import read_audio_file

    audio, rate_hz = read_audio_file(TEST_AUDIO / "english.wav")
    speech = np.clip(soxr.resample(audio, rate_hz, 24_000), -32768, 32767).astype("<i2")
    return np.concatenate([speech, np.zeros(24_000, dtype="<i2")]).tobytes()


async def speak(socket: ClientConnection, pcm: bytes) -> None:
    """Append audio in 100 ms chunks at about three times real time (under the 4x limit)."""
    chunk = 24_000 * 2 // 10
    for start in range(0, len(pcm), chunk):
        audio = base64.b64encode(pcm[start : start + chunk]).decode()
        await socket.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))
        await asyncio.sleep(0.033)


async def test_automatic_responses_count_against_the_minute_and_stop_at_its_limit(
    strict_server: DaphneProcess, org_gamma: Any, simulator: Any
) -> None:
    from limits import RateLimitItemPerMinute

    from voice.realtime.limits import _limiter

    def route(model: str) -> list[dict[str, str]]:
        return [{"provider": "openai_compatible", "model": model, "base_url": simulator.base_url}]

    await configure_agent(
        org_gamma,
        stt_routes=route("sim-stt+say:One, two, three."),
        llm_routes=route("sim-llm+say:Four."),
        tts_routes=route("sim-tts"),
        turn_detection={"type": "server_vad", "silence_duration_ms": 500},
    )
    # The organization starts with its whole minute (one response, on this server).
    await _limiter().clear(RateLimitItemPerMinute(1), org_gamma.schema_name, "responses")
    socket = await open_session(strict_server, await issue_key(org_gamma))
    try:
        await speak(socket, spoken_turn())
        window = await next_of(socket, "rate_limits.updated", timeout_s=30)
        await next_of(socket, "response.created", timeout_s=30)
        await next_of(socket, "response.done", timeout_s=30)

        await speak(socket, spoken_turn())
        refused = await next_of(socket, "error", timeout_s=30)
        # A marker after the refusal: nothing was started in between.
        await socket.send(json.dumps({"type": "session.update", "session": {}}))
        between = await events_until(socket, "session.updated")
    finally:
        await socket.close()
    assert window["rate_limits"][0]["limit"] == 1
    assert window["rate_limits"][0]["remaining"] == 0
    assert refused["error"]["code"] == "rate_limit_exceeded"
    assert not [event for event in between if event["type"].startswith("response.")]


async def next_of(socket: ClientConnection, kind: str, *, timeout_s: float) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        while (event := await next_event(socket, timeout_s=timeout_s))["type"] != kind:
            pass
    return event


async def events_until(socket: ClientConnection, kind: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while (event := await next_event(socket))["type"] != kind:
        seen.append(event)
    return seen
