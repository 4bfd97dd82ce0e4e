"""The typed events a `VoiceSession` emits, one small frozen dataclass per meaning.

They follow the OpenAI Realtime API (GA) server events closely enough that the WebSocket
transport maps each one onto exactly one wire event: every event carries the ids and indexes
its wire counterpart needs. `PlaybackFlush`, `RouteDecision`, `TurnMetrics` and
`ConversationEnded` are AURA extensions.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from voice.engine.errors import AuraError

ItemKind = Literal["message", "function_call", "function_call_output"]
ItemRole = Literal["user", "assistant", "system"]
ItemStatus = Literal["completed", "incomplete", "in_progress"]
ContentType = Literal["input_audio", "input_text", "output_audio", "output_text"]
Modality = Literal["audio", "text"]
ResponseStatus = Literal["completed", "cancelled", "incomplete", "failed"]
ResponseReason = Literal["turn_detected", "client_cancelled", "max_output_tokens", "content_filter"]

_counter = itertools.count(1)


def new_id(prefix: str) -> str:
    """An id like OpenAI's (`item_…`, `resp_…`): unique per process, sortable by creation."""
    return f"{prefix}_{next(_counter):06d}{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class Item:
    """A snapshot of one conversation item (message, function call or its output)."""

    id: str
    kind: ItemKind
    role: ItemRole | None = None
    content_type: ContentType | None = None
    # Message text, or the transcript of a message's audio.
    text: str | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None
    status: ItemStatus = "completed"


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


# --- input audio buffer -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    item_id: str
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class InputCommitted:
    item_id: str
    previous_item_id: str | None = None


@dataclass(frozen=True, slots=True)
class InputCleared:
    pass


@dataclass(frozen=True, slots=True)
class InputTimeout:
    """No speech for the turn detector's `idle_timeout_ms`: the silence becomes a user turn."""

    item_id: str
    audio_start_ms: int
    audio_end_ms: int


# --- conversation items ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemAdded:
    """An item entered the conversation (committed audio, `add_item`, or a response's output)."""

    item: Item
    previous_item_id: str | None = None


@dataclass(frozen=True, slots=True)
class ItemDone:
    """An item is final (its transcript, text or arguments complete), as GA's
    `conversation.item.done` says."""

    item: Item
    previous_item_id: str | None = None


@dataclass(frozen=True, slots=True)
class ItemDeleted:
    item_id: str


@dataclass(frozen=True, slots=True)
class ItemTruncated:
    item_id: str
    content_index: int
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class TranscriptionDelta:
    item_id: str
    delta: str
    content_index: int = 0


@dataclass(frozen=True, slots=True)
class TranscriptionCompleted:
    item_id: str
    transcript: str
    audio_duration_s: float
    content_index: int = 0


@dataclass(frozen=True, slots=True)
class TranscriptionFailed:
    item_id: str
    error: AuraError
    content_index: int = 0


# --- responses ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseCreated:
    response_id: str
    modalities: tuple[Modality, ...]


@dataclass(frozen=True, slots=True)
class OutputItemAdded:
    response_id: str
    output_index: int
    item: Item


@dataclass(frozen=True, slots=True)
class OutputItemDone:
    response_id: str
    output_index: int
    item: Item


@dataclass(frozen=True, slots=True)
class ContentPartAdded:
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    content_type: Literal["audio", "text"]


@dataclass(frozen=True, slots=True)
class ContentPartDone:
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    content_type: Literal["audio", "text"]
    text: str


@dataclass(frozen=True, slots=True)
class TextDelta:
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


@dataclass(frozen=True, slots=True)
class TextDone:
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    text: str


@dataclass(frozen=True, slots=True)
class AudioDelta:
    """One whole frame of output audio in the session's output wire format."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int
    audio: bytes = field(repr=False)
    # Where this frame starts in the item's audio (what `truncate` and playback acks refer to).
    audio_offset_ms: int = 0
    duration_ms: int = 0


@dataclass(frozen=True, slots=True)
class AudioDone:
    response_id: str
    item_id: str
    output_index: int
    content_index: int


@dataclass(frozen=True, slots=True)
class AudioTranscriptDelta:
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


@dataclass(frozen=True, slots=True)
class AudioTranscriptDone:
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    transcript: str


@dataclass(frozen=True, slots=True)
class FunctionCallArgumentsDelta:
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class FunctionCallArgumentsDone:
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ResponseDone:
    response_id: str
    status: ResponseStatus
    output: tuple[Item, ...] = ()
    usage: Usage = Usage()
    reason: ResponseReason | None = None
    error: AuraError | None = None


# --- AURA extensions ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlaybackFlush:
    """Barge-in: the client must drop every queued frame of this item now."""

    response_id: str
    item_id: str
    # The audio the server believes was heard; the item's transcript was cut here.
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Which provider route served (or was skipped for) one stage, and why."""

    stage: Literal["stt", "llm", "tts"]
    provider: str
    model: str
    action: str  # "selected", "skipped", "failed", "hedged", ...
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TurnMetrics:
    """Latencies of one turn, all from one monotonic clock; None where a stage did not run."""

    response_id: str
    user_item_id: str | None
    stt_ms: float | None
    llm_first_token_ms: float | None
    first_clause_ms: float | None
    tts_first_audio_ms: float | None
    voice_to_voice_ms: float | None
    input_tokens: int
    output_tokens: int
    audio_in_s: float
    audio_out_s: float
    llm_route: str | None
    speculative: bool
    # How the turn ended ("completed", "cancelled", "failed") and, if it failed, where.
    status: str = "completed"
    failed_stage: str | None = None
    error_code: str | None = None
    # Input audio quality (voice.engine.observability.audio_quality): level, clipping, noise,
    # arrival.
    audio_quality: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SessionError:
    error: AuraError
    event_id: str | None = None

    @property
    def code(self) -> str:
        return self.error.code


@dataclass(frozen=True, slots=True)
class ConversationEnded:
    reason: str = "end_conversation"


@dataclass(frozen=True, slots=True)
class TransportNotice:
    """What a transport tells its client in order with the session's events (posted with
    `VoiceSession.post`): the engine only carries it, so the event stream stays the one
    writer to the client. With `close_code`, the transport closes the connection after it."""

    payload: Mapping[str, object]
    close_code: int | None = None


SessionEvent = (
    SpeechStarted
    | SpeechStopped
    | InputCommitted
    | InputCleared
    | InputTimeout
    | ItemAdded
    | ItemDone
    | ItemTruncated
    | ItemDeleted
    | TranscriptionDelta
    | TranscriptionCompleted
    | TranscriptionFailed
    | ResponseCreated
    | OutputItemAdded
    | OutputItemDone
    | ContentPartAdded
    | ContentPartDone
    | TextDelta
    | TextDone
    | AudioDelta
    | AudioDone
    | AudioTranscriptDelta
    | AudioTranscriptDone
    | FunctionCallArgumentsDelta
    | FunctionCallArgumentsDone
    | ResponseDone
    | PlaybackFlush
    | RouteDecision
    | TurnMetrics
    | SessionError
    | ConversationEnded
    | TransportNotice
)
