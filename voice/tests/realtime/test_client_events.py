"""Client events are refused at the boundary when what they carry could not be stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.realtime import ConversationItemCreateEvent, ConversationItemTruncateEvent

from voice.engine.errors import InvalidRequestError
from voice.engine.events import Item
from voice.realtime.aura_events import FeedbackEvent, PlaybackPosition
from voice.realtime.client_events import (
    MAX_ITEM_ID_CHARS,
    MAX_MESSAGE_BYTES,
    claimed_event_id,
    item_to_create,
    parse_client_event,
)


def _item_create(item: dict[str, object]) -> str:
    return json.dumps({"type": "conversation.item.create", "item": item})


def _created(frame: str) -> Item:
    event = parse_client_event(frame)
    assert isinstance(event, ConversationItemCreateEvent)
    return item_to_create(event.item)


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
    assert _created(_item_create(_user_text("a literal \\u0000"))).text == "a literal \\u0000"


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
    with pytest.raises(InvalidRequestError) as refused:
        _created(_item_create(item))
    assert (refused.value.code, refused.value.param) == ("invalid_value", param)


def test_an_id_of_the_longest_allowed_length_is_kept():
    item = _created(_item_create(_user_text("hi", id="i" * MAX_ITEM_ID_CHARS)))
    assert item.id == "i" * MAX_ITEM_ID_CHARS


# --- events parsed into their models -----------------------------------------------------


def test_a_standard_event_is_parsed_into_the_sdks_model():
    event = parse_client_event(
        json.dumps(
            {
                "type": "conversation.item.truncate",
                "event_id": "e" * 100,
                "item_id": "item_a",
                "content_index": 0,
                "audio_end_ms": 1500,
            }
        )
    )
    assert isinstance(event, ConversationItemTruncateEvent)
    assert (event.item_id, event.content_index, event.audio_end_ms) == ("item_a", 0, 1500)
    assert event.event_id == "e" * 64  # echoed in errors, so cut to a bounded length


def test_a_standard_event_of_the_wrong_shape_is_refused_naming_the_field():
    with pytest.raises(InvalidRequestError) as refused:
        parse_client_event(json.dumps({"type": "conversation.item.delete", "item_id": 5}))
    assert (refused.value.code, refused.value.param) == ("invalid_event", "item_id")
    assert str(refused.value).startswith("invalid conversation.item.delete: item_id: ")


def test_a_playback_position_is_parsed_with_its_counts_when_they_are_numbers():
    event = parse_client_event(
        json.dumps(
            {
                "type": "aura.playback.position",
                "item_id": "item_a",
                "played_ms": 1200,
                "underruns": 2,
                "late_ms": "x",
                "event_id": 7,
            }
        )
    )
    assert isinstance(event, PlaybackPosition)
    assert (event.played_ms, event.underruns, event.late_ms, event.event_id) == (
        1200.0,
        2.0,
        None,
        None,
    )


@pytest.mark.parametrize(
    "fields",
    [{"item_id": "item_a"}, {"item_id": 1, "played_ms": 5}, {"item_id": "a", "played_ms": True}],
)
def test_a_playback_position_needs_an_item_and_a_time(fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        parse_client_event(json.dumps({"type": "aura.playback.position", **fields}))
    assert str(refused.value) == "aura.playback.position needs item_id and played_ms"
    assert (refused.value.code, refused.value.param) == ("invalid_event", None)


def test_feedback_is_parsed_into_a_rating():
    event = parse_client_event(json.dumps({"type": "aura.feedback", "rating": "up"}))
    assert isinstance(event, FeedbackEvent)
    assert (event.rating, event.comment, event.item_id) == ("up", "", "")


@pytest.mark.parametrize(
    ("fields", "message", "param"),
    [
        (
            {"rating": "up", "conversation_id": "c", "agent": 1},
            "aura.feedback does not take agent, conversation_id: a session rates its own "
            "conversation",
            "agent",
        ),
        ({"rating": "meh"}, "rating is 'up' or 'down'", "rating"),
        ({}, "rating is 'up' or 'down'", "rating"),
        ({"rating": "down", "comment": 3}, "comment is a string", "comment"),
        ({"rating": "down", "item_id": None}, "item_id is a string", "item_id"),
    ],
)
def test_feedback_of_the_wrong_shape_is_refused_naming_the_field(
    fields: dict[str, Any], message: str, param: str
) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        parse_client_event(json.dumps({"type": "aura.feedback", **fields}))
    assert str(refused.value) == message
    assert (refused.value.code, refused.value.param) == ("invalid_event", param)


# --- the event id a refused frame claims ------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "claimed"),
    [
        ('{"type": "conversation.item.delete", "item_id": 5, "event_id": "evt_1"}', "evt_1"),
        ('{"type": "aura.playback.position", "event_id": "evt_2"}', "evt_2"),
        ('{"type": "no.such.event", "event_id": "evt_3"}', "evt_3"),
        ('{"type": "x", "event_id": "' + "e" * 500 + '"}', "e" * 64),
        ('{"type": "x", "event_id": 7}', None),
        ('{"type": "x", "event_id": ""}', None),
        ('{"type": "x", "event_id": "a\\u0000b"}', None),
        ('{"type": "x", "event_id": "a\\ud800"}', None),
        ('["event_id", "evt"]', None),
        ("{not json", None),
        ("[" * 100_000, None),
        ('{"type": "x", "event_id": "evt", "pad": "' + "a" * MAX_MESSAGE_BYTES + '"}', None),
    ],
)
def test_a_refused_frame_has_its_event_id_echoed_only_when_it_is_a_clean_string(frame, claimed):
    assert claimed_event_id(frame) == claimed
