"""Every engine event becomes a server event that the official SDK's models accept."""

import base64
import json
import socket
from typing import Any

import pytest

from voice.engine import events as ev
from voice.engine.config import RouteConfig
from voice.engine.errors import InvalidRequestError, ProviderError
from voice.engine.llm.base import ChatMessage, LLMRequest
from voice.engine.llm.openai_compatible import OpenAICompatibleLLM
from voice.engine.net.openai_client import OpenAIEndpoint
from voice.engine.routing import LLMRouter, RoutesExhaustedError
from voice.engine.routing.breaker import BreakerRegistry
from voice.realtime.server_events import error_event, server_events

from .conformance import assert_conforms

ASSISTANT = ev.Item(
    id="item_2", kind="message", role="assistant", content_type="output_audio", text="Hello there."
)
USER = ev.Item(id="item_1", kind="message", role="user", content_type="input_audio", text="Hi")
TEXT_USER = ev.Item(id="item_3", kind="message", role="user", content_type="input_text", text="Hi")
CALL = ev.Item(
    id="item_4", kind="function_call", call_id="call_1", name="get_current_time", arguments="{}"
)
OUTPUT = ev.Item(
    id="item_5", kind="function_call_output", call_id="call_1", output='{"time": "10:00"}'
)
POSITION: dict[str, Any] = {
    "response_id": "resp_1",
    "item_id": "item_2",
    "output_index": 0,
    "content_index": 0,
}

ENGINE_EVENTS: list[ev.SessionEvent] = [
    ev.SpeechStarted(item_id="item_1", audio_start_ms=120),
    ev.SpeechStopped(item_id="item_1", audio_end_ms=2300),
    ev.InputCommitted(item_id="item_1", previous_item_id=None),
    ev.InputCleared(),
    ev.ItemAdded(item=USER),
    ev.ItemAdded(item=TEXT_USER, previous_item_id="item_1"),
    ev.ItemAdded(item=CALL),
    ev.ItemAdded(item=OUTPUT),
    ev.ItemTruncated(item_id="item_2", content_index=0, audio_end_ms=800),
    ev.TranscriptionDelta(item_id="item_1", delta="Hi"),
    ev.TranscriptionCompleted(item_id="item_1", transcript="Hi", audio_duration_s=1.2),
    ev.TranscriptionFailed(item_id="item_1", error=ProviderError("down", provider="local")),
    ev.ResponseCreated(response_id="resp_1", modalities=("audio",)),
    ev.OutputItemAdded(response_id="resp_1", output_index=0, item=ASSISTANT),
    ev.OutputItemDone(response_id="resp_1", output_index=1, item=CALL),
    ev.ContentPartAdded(content_type="audio", **POSITION),
    ev.ContentPartDone(content_type="audio", text="Hello there.", **POSITION),
    ev.ContentPartDone(content_type="text", text="Hello there.", **POSITION),
    ev.TextDelta(delta="Hel", **POSITION),
    ev.TextDone(text="Hello there.", **POSITION),
    ev.AudioDelta(audio=b"\x01\x00" * 480, audio_offset_ms=0, duration_ms=20, **POSITION),
    ev.AudioDone(**POSITION),
    ev.AudioTranscriptDelta(delta="Hello", **POSITION),
    ev.AudioTranscriptDone(transcript="Hello there.", **POSITION),
    ev.FunctionCallArgumentsDelta(
        response_id="resp_1", item_id="item_4", output_index=1, call_id="call_1", delta="{"
    ),
    ev.FunctionCallArgumentsDone(
        response_id="resp_1",
        item_id="item_4",
        output_index=1,
        call_id="call_1",
        name="get_current_time",
        arguments="{}",
    ),
    ev.ResponseDone(
        response_id="resp_1", status="completed", output=(ASSISTANT,), usage=ev.Usage(10, 5)
    ),
    ev.ResponseDone(response_id="resp_1", status="cancelled", reason="turn_detected"),
    ev.ResponseDone(
        response_id="resp_1", status="failed", error=ProviderError("x", provider="local")
    ),
    ev.PlaybackFlush(response_id="resp_1", item_id="item_2", audio_end_ms=640),
    ev.SessionError(error=InvalidRequestError("bad", param="session.tools"), event_id="evt_9"),
]


@pytest.mark.parametrize("event", ENGINE_EVENTS, ids=lambda e: type(e).__name__)
def test_each_engine_event_becomes_one_sdk_valid_server_event(event):
    (wire,) = server_events(event, extensions=False)
    assert_conforms({"event_id": "event_1", **wire})


def test_audio_travels_as_base64_pcm():
    (wire,) = server_events(ENGINE_EVENTS[20], extensions=False)
    assert base64.b64decode(wire["delta"]) == b"\x01\x00" * 480


def test_an_interrupted_response_says_why():
    (wire,) = server_events(ENGINE_EVENTS[27], extensions=False)
    assert wire["response"]["status_details"] == {"type": "cancelled", "reason": "turn_detected"}


def test_extension_events_reach_only_clients_that_asked_for_them():
    metrics = ev.TurnMetrics(
        response_id="resp_1",
        user_item_id="item_1",
        stt_ms=120.0,
        llm_first_token_ms=90.0,
        first_clause_ms=200.0,
        tts_first_audio_ms=80.0,
        voice_to_voice_ms=880.0,
        input_tokens=10,
        output_tokens=12,
        audio_in_s=2.0,
        audio_out_s=1.5,
        llm_route="local/gemma3-270m",
        speculative=True,
    )
    assert server_events(metrics, extensions=False) == []
    (wire,) = server_events(metrics, extensions=True)
    assert wire["type"] == "aura.turn.metrics"
    assert wire["voice_to_voice_ms"] == 880.0
    flush = ENGINE_EVENTS[29]
    assert [w["type"] for w in server_events(flush, extensions=True)] == [
        "output_audio_buffer.cleared",
        "aura.playback.flush",
    ]


# -- provider failures: a code and a useful sentence, never the provider's own words ----------

TENANT_KEY = "sk-proj-tenant-" + "T" * 30 + "wxyz"


def _unreachable_base_url() -> str:
    """A loopback port nothing listens on: the error names the host, as an internal one would."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"


async def _exhausted(simulator: Any) -> RoutesExhaustedError:
    routes = [
        RouteConfig(
            provider="openai",
            model="fail-401",
            base_url=simulator.base_url,
            api_key=TENANT_KEY,
            key_fallback="none",
        ),
        RouteConfig(provider="openai_compatible", model="fail-500", base_url=simulator.base_url),
        RouteConfig(
            provider="openai_compatible", model="m", base_url=_unreachable_base_url(), timeout_s=2
        ),
    ]
    request = LLMRequest(messages=(ChatMessage("user", "hello"),))
    with pytest.raises(RoutesExhaustedError) as caught:
        _ = [c async for c in LLMRouter(routes, breakers=BreakerRegistry()).stream(request)]
    return caught.value


async def test_failed_providers_are_reported_by_code_without_their_own_words(simulator):
    exhausted = await _exhausted(simulator)
    # The server keeps the whole story for its logs.
    assert "Incorrect API key provided" in exhausted.message
    assert "simulated failure" in exhausted.message

    for wire in (
        error_event(exhausted, event_id="evt_1"),
        *server_events(ev.SessionError(exhausted), extensions=True),
        *server_events(ev.TranscriptionFailed(item_id="item_1", error=exhausted), extensions=False),
    ):
        assert_conforms({"event_id": "event_1", **wire})
        text = json.dumps(wire)
        for leaked in ("Incorrect API key", "simulated failure", "127.0.0.1", "wxyz", "sk-"):
            assert leaked not in text, f"{leaked!r} reached the client: {text}"
    body = error_event(exhausted)["error"]
    assert body["code"] == "all_routes_failed"
    assert body["message"] == (
        "No language model provider could answer (provider_auth_failed, provider_error, "
        "provider_unreachable); details are in the server's logs."
    )


async def test_one_provider_failure_is_described_by_its_code(simulator):
    provider = OpenAICompatibleLLM(
        endpoint=OpenAIEndpoint(
            provider="openai_compatible", model="fail-429", api_key="k", base_url=simulator.base_url
        )
    )
    with pytest.raises(ProviderError) as caught:
        _ = [c async for c in provider.stream(LLMRequest(messages=(ChatMessage("user", "hi"),)))]

    body = error_event(caught.value)["error"]

    assert "simulated failure" in caught.value.message
    assert body == {
        "type": "server_error",
        "code": "rate_limited",
        "message": "The model provider is rate limiting requests; try again shortly. "
        "(details are in the server's logs)",
    }


def test_aura_s_own_errors_keep_their_message():
    error = InvalidRequestError("instructions must be a string", param="session.instructions")
    assert error_event(error)["error"]["message"] == "instructions must be a string"
