"""AURA's own models of client events: its extensions (`aura.*`), and `session.update`.

The SDK's models are the protocol's spec for the standard events; these cover what they do not.
`session.update` is AURA's because AURA accepts more than the SDK's model (more sample rates):
its session is AURA's `SessionConfig` (voice/realtime/session_model.py). Each model turns
its validation errors into AURA's documented refusal (`refusal`): code, message and param.
"""

from __future__ import annotations

import typing
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, StrictFloat, StrictStr, field_validator
from pydantic_core import ErrorDetails

from voice.engine.errors import InvalidRequestError

# The longest client event id echoed back in an error.
MAX_EVENT_ID_CHARS = 64


class AuraClientEvent(BaseModel):
    """An event the SDK has no model for; its `event_id` is only echoed, so anything else than
    a string is ignored rather than refused."""

    model_config = ConfigDict(extra="allow", frozen=True)

    event_id: str | None = None

    @field_validator("event_id", mode="before")
    @classmethod
    def _echoable(cls, value: object) -> str | None:
        return (value[:MAX_EVENT_ID_CHARS] or None) if isinstance(value, str) else None

    @classmethod
    def refusal(cls, errors: list[ErrorDetails]) -> InvalidRequestError:
        """The refusal of an event that failed this model (`errors` in pydantic's order)."""
        return validation_refusal(event_type_of(cls), errors)


class SessionUpdate(AuraClientEvent):
    type: Literal["session.update"]
    # Any JSON here; the handler reads it as a `SessionConfig`, so that a session refused
    # echoes the event's id, after the key's override check (voice.realtime.client_events).
    session: object = None


class PlaybackPosition(AuraClientEvent):
    """How far the client's player got in an answer's audio, and how it went (optional)."""

    type: Literal["aura.playback.position"]
    item_id: StrictStr
    played_ms: StrictFloat  # an int too, never a bool
    # The player's running counts: anything but a finite number from zero is ignored.
    underruns: float | None = None
    late_ms: float | None = None

    @field_validator("underruns", "late_ms", mode="before")
    @classmethod
    def _count(cls, value: object) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        number = float(value)
        return number if 0 <= number < 1e12 else None

    @classmethod
    def refusal(cls, errors: list[ErrorDetails]) -> InvalidRequestError:
        return InvalidRequestError(
            "aura.playback.position needs item_id and played_ms", code="invalid_event"
        )


class FeedbackEvent(AuraClientEvent):
    """A rating of the session's own conversation, or of one of its answers (`item_id`).

    It names no conversation: a session rates the conversation it holds, and nothing else
    (an event that tries to name one is refused rather than quietly narrowed).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    _MESSAGES: ClassVar[dict[str, str]] = {
        "rating": "rating is 'up' or 'down'",
        "comment": "comment is a string",
        "item_id": "item_id is a string",
    }

    type: Literal["aura.feedback"]
    rating: Literal["up", "down"]  # conversations.models.Feedback.Rating
    comment: StrictStr = ""
    item_id: StrictStr = ""

    @classmethod
    def refusal(cls, errors: list[ErrorDetails]) -> InvalidRequestError:
        extra = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
        if extra:
            return InvalidRequestError(
                f"aura.feedback does not take {', '.join(extra)[:100]}: a session rates its own "
                "conversation",
                code="invalid_event",
                param=extra[0][:64],
            )
        field = str(errors[0]["loc"][0])
        return InvalidRequestError(cls._MESSAGES[field], code="invalid_event", param=field)


def event_type_of(model: type[BaseModel]) -> str:
    """The `type` an event model stands for (its `type` field is a one-value Literal)."""
    (event_type,) = typing.get_args(model.model_fields["type"].annotation)
    return str(event_type)


def validation_refusal(event_type: str, errors: list[ErrorDetails]) -> InvalidRequestError:
    """An event refused for its first validation error, naming where it is."""
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "event"
    return InvalidRequestError(
        f"invalid {event_type}: {where}: {first['msg']}", code="invalid_event", param=where
    )


AURA_EVENTS: tuple[type[AuraClientEvent], ...] = (SessionUpdate, PlaybackPosition, FeedbackEvent)
