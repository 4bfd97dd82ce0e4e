"""Property-based fuzz of client events over a real socket (Hypothesis, reproducible).

One daphne serves the whole run. Each example sends frames of one class of hostile input on a
live session, then a `session.update` probe: the property is that every frame was answered
with an `error` event or accepted, that the probe is still answered (the socket lives), that
every server event is well formed (the SDK's models for standard events), that the server
process lives, and that nothing of another organization changed. Input classes:

- arbitrary JSON values, and arbitrary non-JSON text (NUL included);
- binary frames (raw audio on a `?binary=1` session, bytes of any length);
- each client event type, valid but for one field mutated: a value of the wrong type, a huge
  or non-finite number, deep nesting, unicode with NUL and lone surrogates, a long string, the
  field missing, an unknown field added;
- random sequences of valid events.

Derandomized (no example database), so CI sees the same examples every run.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as connect_sync

from aura_project.tests.attacks import fuzz_input
from tenants.models import Organization
from voice.tests.engine.simulator import SimulatorProcess
from voice.tests.realtime.conformance import assert_conforms
from voice.tests.realtime.conftest import configure_agent
from voice.tests.realtime.server import DaphneProcess

pytestmark = [
    pytest.mark.adversarial,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),
]

FUZZ_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
PROBE_TIMEOUT_S = 30.0
ITEM_ID = "item_fuzz"
SILENCE = base64.b64encode(b"\x00\x00" * 240).decode()
# One valid example of every client event type (and AURA's extension), to mutate.
BASE_EVENTS: dict[str, dict[str, Any]] = {
    "session.update": {
        "session": {
            "type": "realtime",
            "instructions": "Be brief.",
            "output_modalities": ["text"],
            "tools": [
                {
                    "type": "function",
                    "name": "lookup",
                    "description": "Look something up.",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                }
            ],
            "tool_choice": "auto",
            "max_output_tokens": 40,
            "audio": {
                "input": {"format": {"type": "audio/pcm", "rate": 24000}, "turn_detection": None},
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"},
            },
        }
    },
    "input_audio_buffer.append": {"audio": SILENCE},
    "input_audio_buffer.commit": {},
    "input_audio_buffer.clear": {},
    "output_audio_buffer.clear": {},
    "conversation.item.create": {
        "previous_item_id": None,
        "item": {
            "id": ITEM_ID,
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Hello there."}],
        },
    },
    "conversation.item.truncate": {"item_id": ITEM_ID, "content_index": 0, "audio_end_ms": 0},
    "conversation.item.delete": {"item_id": ITEM_ID},
    "conversation.item.retrieve": {"item_id": ITEM_ID},
    "response.create": {
        "response": {
            "output_modalities": ["text"],
            "instructions": "Say hello.",
            "max_output_tokens": 20,
            "tool_choice": "none",
        }
    },
    "response.cancel": {"response_id": "resp_fuzz"},
    "aura.playback.position": {"item_id": ITEM_ID, "played_ms": 100},
}
BASE_EVENTS = {
    event_type: {"type": event_type, "event_id": "evt_fuzz", **fields}
    for event_type, fields in BASE_EVENTS.items()
}


# --- the socket under fuzz ---------------------------------------------------------------


class FuzzedSession:
    """One live session, reopened only if an earlier example (already failed) closed it."""

    def __init__(self, server: DaphneProcess, key: str):
        self.url = f"{server.websocket_base_url}/realtime?aura=1&binary=1"
        self.key = key
        self.socket: ClientConnection | None = None
        self.markers = itertools.count()
        self.error_codes: set[str] = set()

    def open(self) -> ClientConnection:
        if self.socket is None or self.socket.state.name != "OPEN":
            self.socket = connect_sync(
                self.url,
                additional_headers={"Authorization": f"Bearer {self.key}"},
                max_size=None,
                open_timeout=30,
            )
            self._read_until(lambda event: event["type"] == "session.created")
        return self.socket

    def exchange(self, frames: list[str | bytes]) -> list[dict[str, Any]]:
        """Send the frames, then a probe; every event up to the probe's answer."""
        socket = self.open()
        for frame in frames:
            socket.send(frame)
        marker = f"probe {next(self.markers)}"
        socket.send(json.dumps({"type": "session.update", "session": {"instructions": marker}}))
        return self._read_until(
            lambda event: (
                event["type"] == "session.updated" and event["session"]["instructions"] == marker
            )
        )

    def _read_until(self, done: Any) -> list[dict[str, Any]]:
        assert self.socket is not None
        events: list[dict[str, Any]] = []
        while True:
            try:
                raw = self.socket.recv(timeout=PROBE_TIMEOUT_S)
            except ConnectionClosed as closed:
                raise AssertionError(f"the server closed the socket: {closed}") from closed
            except TimeoutError as silence:
                raise AssertionError(f"no answer within {PROBE_TIMEOUT_S} s") from silence
            if isinstance(raw, bytes):
                continue  # audio of a response (binary extension)
            event = json.loads(raw)
            check_server_event(event)
            if event["type"] == "error":
                self.error_codes.add(event["error"]["code"])
            events.append(event)
            if done(event):
                return events

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()


def check_server_event(event: Any) -> None:
    assert isinstance(event, dict), event
    assert isinstance(event.get("type"), str), event
    if not event["type"].startswith("aura."):
        assert_conforms(event)
    if event["type"] == "error":
        assert isinstance(event["error"].get("code"), str), event
        assert event["error"]["code"], event


def beta_rows(org_beta: Any) -> Any:
    from conversations.models import Conversation, Message
    from monitoring.models import UsageRecord
    from tenants.models import ApiKey
    from voice.models import Agent

    with schema_context(org_beta.schema_name):
        return (
            list(Conversation.objects.order_by("pk").values()),
            Message.objects.count(),
            UsageRecord.objects.count(),
            list(Agent.objects.order_by("pk").values()),
            list(ApiKey.objects.filter(organization=org_beta).order_by("pk").values()),
        )


def server_alive(server: DaphneProcess) -> bool:
    with urllib.request.urlopen(server.http_url + "/healthz", timeout=10) as reply:
        return server.process.poll() is None and reply.status == 200


@pytest.fixture
def fuzzed(
    daphne_server: DaphneProcess,
    simulator: SimulatorProcess,
    org_alpha: Organization,
    org_beta: Organization,
) -> Iterator[FuzzedSession]:
    """Alpha's session on simulated providers (answers in milliseconds), beta watched."""
    from tenants.services import api_key_create

    route = {"provider": "openai_compatible", "base_url": simulator.base_url}
    async_to_sync(configure_agent)(
        org_alpha,
        turn_detection=None,
        stt_routes=[{**route, "model": "whisper-fuzz"}],
        llm_routes=[{**route, "model": "say:Fuzzed."}],
        tts_routes=[{**route, "model": "tts-fuzz"}],
    )
    before = beta_rows(org_beta)
    session = FuzzedSession(daphne_server, api_key_create(organization=org_alpha).plaintext)
    try:
        yield session
    finally:
        session.close()
    assert server_alive(daphne_server)
    assert beta_rows(org_beta) == before


# --- inputs -------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=50)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=25,
)
# Lone surrogates cannot travel as UTF-8: they arrive as JSON escapes, as a hostile client
# would send them.
unicode_text = st.text(st.characters(codec=None), max_size=200).map(
    lambda text: "\x00" + text + "\ud800\udfff\udc00"
)


DEEP = "__deep__"


def _deep_json(depth: int) -> str:
    """Nested objects and lists, `depth` levels, as JSON text (deeper than Python's own
    recursion allows to build or print as objects)."""
    opening = "".join("[" if level % 2 else '{"n":' for level in range(depth))
    closing = "".join("]" if level % 2 else "}" for level in reversed(range(depth)))
    return f'{opening}"x"{closing}'


MUTATIONS: dict[str, st.SearchStrategy[Any]] = {
    "wrong type": st.sampled_from([None, True, 0, -1, 1.5, "", "x", [], {}, [1, "a"], {"a": 1}]),
    "huge or non-finite number": st.sampled_from(
        [10**30, -(10**30), 2**63, 2**64, -(2**63) - 1, 1e308, -1e308, 5e-324]
    )
    | st.sampled_from([float("inf"), float("-inf"), float("nan")]),
    "deep nesting": st.integers(min_value=10, max_value=3000).map(lambda depth: (DEEP, depth)),
    "unicode with NUL and surrogates": unicode_text,
    "long string": st.integers(min_value=1_000, max_value=1_100_000).map(lambda n: "x" * n),
}
STRUCTURAL = ("missing field", "unknown field added")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _parent(event: dict[str, Any], path: tuple[Any, ...]) -> Any:
    node: Any = event
    for step in path[:-1]:
        node = node[step]
    return node


@st.composite
def mutated_events(draw: Any) -> tuple[str, str, str]:
    """(mutation kind, event type, the frame): one field of a valid event made hostile."""
    event_type = draw(st.sampled_from(sorted(BASE_EVENTS)))
    event = copy.deepcopy(BASE_EVENTS[event_type])
    path = draw(st.sampled_from(_paths(event)))
    kind = draw(st.sampled_from([*MUTATIONS, *STRUCTURAL]))
    parent = _parent(event, path)
    depth = 0
    if kind == "missing field":
        del parent[path[-1]]
    elif kind == "unknown field added":
        target = parent if isinstance(parent, dict) else event
        target[draw(st.text(min_size=1, max_size=20))] = draw(json_values)
    else:
        value = draw(MUTATIONS[kind])
        if kind == "deep nesting":
            value, depth = value
        parent[path[-1]] = value
    frame = _encoded(event)
    if depth:
        frame = frame.replace(json.dumps(DEEP), _deep_json(depth), 1)
    return kind, event_type, frame


def valid_events() -> st.SearchStrategy[dict[str, Any]]:
    instructions = st.text(st.characters(codec="utf-8"), max_size=80)
    return st.one_of(
        st.sampled_from(list(BASE_EVENTS.values())),
        instructions.map(
            lambda text: {"type": "session.update", "session": {"instructions": text}}
        ),
        st.sampled_from([["text"], ["audio"]]).map(
            lambda modes: {"type": "session.update", "session": {"output_modalities": modes}}
        ),
        st.binary(min_size=2, max_size=960).map(
            lambda pcm: {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(pcm).decode(),
            }
        ),
        instructions.map(
            lambda text: {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        ),
    )


def _encoded(event: Any) -> str:
    # ensure_ascii: lone surrogates travel as \\uXXXX escapes; allow_nan: NaN and Infinity as
    # Python writes them (not JSON, but what a sloppy client sends).
    return json.dumps(event, ensure_ascii=True)


# --- the properties -----------------------------------------------------------------------


def _answered(fuzzed: FuzzedSession, frames: list[str | bytes]) -> None:
    events = fuzzed.exchange(frames)
    assert events[-1]["type"] == "session.updated"


@settings(FUZZ_SETTINGS, max_examples=150)
@given(value=json_values)
def test_any_json_value_is_answered_and_the_session_lives(fuzzed, value):
    fuzz_input("arbitrary JSON value")
    _answered(fuzzed, [_encoded(value)])


@settings(FUZZ_SETTINGS, max_examples=50)
@given(text=st.text(st.characters(codec="utf-8"), max_size=300))
def test_any_text_frame_is_answered_and_the_session_lives(fuzzed, text):
    fuzz_input("arbitrary text")
    _answered(fuzzed, [text])


@settings(FUZZ_SETTINGS, max_examples=60)
@given(frame=st.binary(max_size=4096))
def test_any_binary_frame_is_answered_and_the_session_lives(fuzzed, frame):
    fuzz_input("binary frame")
    _answered(fuzzed, [frame])


@settings(FUZZ_SETTINGS, max_examples=500)
@given(mutation=mutated_events())
def test_a_mutated_event_of_every_type_is_answered_and_the_session_lives(fuzzed, mutation):
    kind, _event_type, frame = mutation
    fuzz_input(f"mutated: {kind}")
    _answered(fuzzed, [frame])


@settings(FUZZ_SETTINGS, max_examples=120)
@given(sequence=st.lists(valid_events(), min_size=1, max_size=8))
def test_random_sequences_of_valid_events_keep_the_session_alive(fuzzed, sequence):
    fuzz_input("sequence of valid events")
    _answered(fuzzed, [_encoded(event) for event in sequence])
