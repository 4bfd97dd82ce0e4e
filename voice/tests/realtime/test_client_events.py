"""Client events are refused at the boundary when what they carry could not be stored."""

from __future__ import annotations

import json

import pytest

from voice.engine.errors import InvalidRequestError
from voice.realtime.client_events import MAX_ITEM_ID_CHARS, item_to_create, parse_client_event


def _item_create(item: dict[str, object]) -> str:
    return json.dumps({"type": "conversation.item.create", "item": item})


def _user_text(text: str, **fields: object) -> dict[str, object]:
    return {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
        **fields,
    }


@pytest.mark.parametrize(
    ("frame", "param"),
    [
        (_item_create(_user_text("before\x00after")), "item.content[0].text"),
        (
            json.dumps({"type": "session.update", "session": {"instructions": "\x00"}}),
            "session.instructions",
        ),
        (
            _item_create({"type": "function_call_output", "call_id": "c1", "output": "x\x00"}),
            "item.output",
        ),
        (json.dumps({"type": "response.create", "event_id": "e\x00"}), "event_id"),
    ],
)
def test_text_with_a_nul_character_is_refused_naming_where_it_is(frame, param):
    with pytest.raises(InvalidRequestError) as refused:
        parse_client_event(frame)
    assert (refused.value.code, refused.value.param) == ("invalid_value", param)


def test_an_escaped_backslash_before_u0000_is_ordinary_text():
    event = parse_client_event(_item_create(_user_text("a literal \\u0000")))
    assert item_to_create(event.payload).text == "a literal \\u0000"


@pytest.mark.parametrize(
    ("item", "param"),
    [
        (_user_text("hi", id="i" * (MAX_ITEM_ID_CHARS + 1)), "item.id"),
        (
            {"type": "function_call_output", "call_id": "c" * 65, "output": "{}"},
            "item.call_id",
        ),
    ],
)
def test_client_ids_longer_than_the_stored_column_are_refused(item, param):
    event = parse_client_event(_item_create(item))
    with pytest.raises(InvalidRequestError) as refused:
        item_to_create(event.payload)
    assert (refused.value.code, refused.value.param) == ("invalid_value", param)


def test_an_id_of_the_longest_allowed_length_is_kept():
    event = parse_client_event(_item_create(_user_text("hi", id="i" * MAX_ITEM_ID_CHARS)))
    assert item_to_create(event.payload).id == "i" * MAX_ITEM_ID_CHARS
