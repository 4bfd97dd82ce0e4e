"""Client events reach their handlers through one registry (voice/realtime/dispatcher.py), and
the protocol's handlers (voice/realtime/handlers.py) turn each into one call of the session."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from django.test import override_settings
from pydantic import BaseModel

from voice.engine.config import AgentConfig
from voice.engine.errors import AuraError, InvalidRequestError
from voice.engine.events import Item
from voice.realtime.client_events import (
    EXTENSION_TYPES,
    STANDARD_TYPES,
    ClientEvent,
    parse_client_event,
)
from voice.realtime.dispatcher import Dispatcher
from voice.realtime.guard import SessionGuard
from voice.realtime.handlers import DISPATCHER
from voice.realtime.quality_signals import SessionSignals
from voice.realtime.wire import ConnectOptions


class FakeSession:
    """The engine session as handlers see it: records what it is asked."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.deleted: list[str] = []
        self.updated: list[AgentConfig] = []

    async def add_item(self, item: Item) -> str:
        self.items.append(item)
        return item.id or "item_new"

    def text_chars(self) -> int:
        return sum(len(item.text or "") for item in self.items)

    async def delete_item(self, item_id: str) -> None:
        if item_id not in {item.id for item in self.items}:
            raise InvalidRequestError(f"no item {item_id!r}", param="item_id")
        self.deleted.append(item_id)

    def update(self, config: AgentConfig) -> None:
        self.updated.append(config)


class FakeHost:
    def notify(self, payload: dict[str, Any]) -> None: ...
    async def end_with(self, error: AuraError, close_code: int, *, for_good: bool) -> None: ...
    async def taken_over(self, by_socket_id: str | None = None) -> None: ...


class FakeConnection:
    def __init__(self) -> None:
        self.config = AgentConfig()
        self.session = FakeSession()
        self.guard = SessionGuard(FakeHost(), schema_name="org_test", responses_per_minute=60)
        self.notified: list[dict[str, Any]] = []
        self.audio: list[bytes] = []
        self.signals = SessionSignals()
        self.schema_name = "org_test"
        self.options = ConnectOptions()

    @property
    def model(self) -> str:
        return "aura-local"

    @property
    def conversation_id(self) -> str:
        return "conv_test"

    def live(self) -> Any:
        return self.session

    def notify(self, payload: dict[str, Any]) -> None:
        self.notified.append(payload)

    def feed_audio(self, data: bytes) -> None:
        self.audio.append(data)


def event(payload: dict[str, Any]) -> ClientEvent:
    import json

    return parse_client_event(json.dumps(payload))


class Example(BaseModel):
    """An event of some module's own, with its model."""

    type: Literal["aura.example"]
    event_id: str | None = None
    note: str


def text_item(text: str, item_id: str = "") -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }
    if item_id:
        item["id"] = item_id
    return {"type": "conversation.item.create", "item": item}


def test_every_event_a_client_may_send_has_a_handler():
    assert DISPATCHER.event_types >= STANDARD_TYPES | EXTENSION_TYPES


async def test_a_registered_handler_gets_the_connection_and_the_event_as_its_model():
    dispatcher = Dispatcher()
    seen: list[tuple[Any, str]] = []

    @dispatcher.handles(Example)
    async def example(connection: Any, received: Example) -> None:
        seen.append((connection, received.note))

    connection = FakeConnection()
    await dispatcher.dispatch(connection, Example(type="aura.example", note="hello"))
    assert seen == [(connection, "hello")]
    assert dispatcher.event_types == {"aura.example"}


def test_an_event_type_has_one_handler_only():
    dispatcher = Dispatcher()

    @dispatcher.handles(Example)
    async def first(connection: Any, received: Example) -> None: ...

    with pytest.raises(ValueError, match="already has a handler"):

        @dispatcher.handles(Example)
        async def second(connection: Any, received: Example) -> None: ...


async def test_an_event_without_a_handler_is_refused_with_a_code():
    with pytest.raises(InvalidRequestError) as refused:
        await Dispatcher().dispatch(FakeConnection(), event({"type": "response.cancel"}))
    assert refused.value.code == "unsupported_event"


async def test_a_session_update_changes_the_config_and_tells_the_client():
    connection = FakeConnection()
    await DISPATCHER.dispatch(
        connection, event({"type": "session.update", "session": {"instructions": "Be brief."}})
    )
    assert connection.config.instructions == "Be brief."
    assert connection.session.updated == [connection.config]
    assert [n["type"] for n in connection.notified] == ["session.updated"]


async def test_a_text_item_is_added_to_the_session():
    connection = FakeConnection()
    await DISPATCHER.dispatch(connection, event(text_item("Hello there.", "item_a")))
    assert [(i.id, i.text) for i in connection.session.items] == [("item_a", "Hello there.")]


@override_settings(AURA_REALTIME_MAX_ITEM_CHARS=100)
async def test_an_item_over_the_per_item_budget_is_refused():
    connection = FakeConnection()
    with pytest.raises(InvalidRequestError) as refused:
        await DISPATCHER.dispatch(connection, event(text_item("x" * 101)))
    assert refused.value.code == "item_too_large"
    assert connection.session.items == []


@override_settings(AURA_REALTIME_MAX_ITEM_CHARS=100, AURA_REALTIME_MAX_CONVERSATION_CHARS=250)
async def test_items_stop_at_the_conversation_budget():
    connection = FakeConnection()
    for _ in range(2):
        await DISPATCHER.dispatch(connection, event(text_item("x" * 100)))
    with pytest.raises(InvalidRequestError) as refused:
        await DISPATCHER.dispatch(connection, event(text_item("x" * 51)))
    assert refused.value.code == "conversation_too_large"
    assert len(connection.session.items) == 2


async def test_deleting_an_unknown_item_is_refused_by_the_session():
    connection = FakeConnection()
    with pytest.raises(InvalidRequestError):
        await DISPATCHER.dispatch(
            connection, event({"type": "conversation.item.delete", "item_id": "item_nope"})
        )
    assert connection.session.deleted == []


async def test_audio_is_decoded_and_fed():
    connection = FakeConnection()
    await DISPATCHER.dispatch(
        connection, event({"type": "input_audio_buffer.append", "audio": "AAAA"})
    )
    assert connection.audio == [b"\x00\x00\x00"]


async def test_a_playback_position_needs_its_fields():
    with pytest.raises(InvalidRequestError) as refused:
        await DISPATCHER.dispatch(
            FakeConnection(), event({"type": "aura.playback.position", "item_id": "item_a"})
        )
    assert refused.value.code == "invalid_event"
