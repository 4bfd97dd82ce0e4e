"""The output side of one response: its items and content parts, paced audio, and the cut.

`ResponseOutput` writes every client-visible event of a response in order (OpenAI's
output_item / content_part / audio / transcript sequence), adds the items to the conversation,
paces audio frames against the modelled playback (`playback.PlaybackClock`) and, on a
barge-in, withdraws unsent frames and cuts the message's text to what was heard.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voice.engine.audio.echo_reference import PlayedAudio
from voice.engine.audio.encoder import OutputAudioEncoder
from voice.engine.config import AudioFormat
from voice.engine.events import (
    AudioDelta,
    AudioDone,
    AudioTranscriptDelta,
    AudioTranscriptDone,
    ContentPartAdded,
    ContentPartDone,
    FunctionCallArgumentsDelta,
    FunctionCallArgumentsDone,
    ItemAdded,
    ItemDone,
    Modality,
    OutputItemAdded,
    OutputItemDone,
    PlaybackFlush,
    SessionEvent,
    TextDelta,
    TextDone,
)
from voice.engine.pipeline import conversation as items
from voice.engine.pipeline.conversation import Conversation, Entry
from voice.engine.pipeline.event_queue import EventQueue
from voice.engine.pipeline.playback import PlaybackClock, SpokenText
from voice.engine.ports import AudioSampler, Clock


@dataclass(frozen=True, slots=True)
class OutputSettings:
    """What every response's output shares with its session."""

    output_format: AudioFormat
    frame_ms: int
    playback_lead_ms: int
    conversation: Conversation
    events: EventQueue
    clock: Clock
    on_message: Callable[[MessageOutput], None]
    sampler: AudioSampler | None = None


class MessageOutput:
    """An assistant message being spoken (or written): its text spans and its play head."""

    def __init__(
        self, response_id: str, entry: Entry, output_index: int, settings: OutputSettings
    ) -> None:
        self.response_id = response_id
        self.entry = entry
        self.output_index = output_index
        self.spoken = SpokenText()
        self.playback = PlaybackClock(settings.clock, lead_ms=settings.playback_lead_ms)
        self.encoder: OutputAudioEncoder | None = None
        self.frame_ms = settings.frame_ms
        # The synthesized audio, kept only for an answer sampled for quality scoring.
        sampler = settings.sampler
        self.sampled_audio: list[npt.NDArray[np.int16]] | None = (
            [] if sampler is not None and sampler.wants_sample() else None
        )
        self.sampled_rate_hz = 0
        # The echo guard's reference: what the client's speaker plays for this item.
        self.played = PlayedAudio()

    @property
    def in_progress(self) -> bool:
        return self.entry.status == "in_progress"


@dataclass(frozen=True, slots=True)
class Interruption:
    """What a cancelled response leaves behind: the cut message and the unheard clauses."""

    response_id: str
    entry: Entry | None
    flush: PlaybackFlush | None
    # Text of the clauses heard to their end, and the clauses after them (for a resume).
    heard_clauses_text: str
    unheard_clauses: tuple[str, ...]


def truncate_to_heard(message: MessageOutput, heard_ms: float) -> PlaybackFlush | None:
    """Cut a message's text to the audio heard; None if none of its audio was sent."""
    entry = message.entry
    entry.text = message.spoken.heard_text(heard_ms)
    entry.truncated = True
    entry.audio_ms = min(heard_ms, message.playback.sent_ms)
    if message.playback.sent_ms <= 0:
        return None
    return PlaybackFlush(message.response_id, entry.id, round(entry.audio_ms))


class ResponseOutput:
    """Writes one response's items and events; `on_first_audio` marks voice-to-voice."""

    def __init__(
        self,
        response_id: str,
        modalities: tuple[Modality, ...],
        settings: OutputSettings,
        *,
        on_first_audio: Callable[[], None],
    ) -> None:
        self.response_id = response_id
        self.audio = "audio" in modalities
        self.items: list[Entry] = []
        # Its assistant messages, oldest first (tool calls between rounds may split the answer);
        # `message` is the last.
        self.messages: list[MessageOutput] = []
        self.message: MessageOutput | None = None
        self._settings = settings
        self._on_first_audio = on_first_audio
        self._part_type: Modality = "audio" if self.audio else "text"

    @property
    def audio_out_ms(self) -> float:
        return sum(entry.audio_ms for entry in self.items)

    async def clause_started(self, text: str) -> None:
        message = await self._current_message()
        text = text.strip()
        delta = text if not message.spoken.spans else " " + text
        message.spoken.clause_started(text, message.playback.sent_ms)
        message.entry.text = message.spoken.full_text()
        entry_id, index = message.entry.id, message.output_index
        if self.audio:
            await self._emit(AudioTranscriptDelta(self.response_id, entry_id, index, 0, delta))
        else:
            message.spoken.clause_ended(0.0)
            await self._emit(TextDelta(self.response_id, entry_id, index, 0, delta))

    def clause_ended(self) -> None:
        if self.message is not None:
            self.message.spoken.clause_ended(self.message.playback.sent_ms)

    async def audio_chunk(self, pcm: npt.NDArray[np.int16], rate_hz: int) -> None:
        message = await self._current_message()
        if message.encoder is None:
            message.encoder = OutputAudioEncoder(
                self._settings.output_format, source_rate_hz=rate_hz, frame_ms=message.frame_ms
            )
        if message.sampled_audio is not None:
            message.sampled_audio.append(pcm)
            message.sampled_rate_hz = rate_hz
        message.played.append(pcm, rate_hz)
        for frame in message.encoder.encode(pcm):
            await self._send_frame(message, frame)

    async def function_call(self, entry: Entry) -> None:
        await self.close_message(completed=True)
        index = len(self.items)
        self._add(entry)
        call_id, name = entry.call_id or "", entry.name or ""
        in_progress = dataclasses.replace(entry, status="in_progress", arguments="")
        rid = self.response_id
        await self._emit(OutputItemAdded(rid, index, in_progress.snapshot()))
        await self._emit(FunctionCallArgumentsDelta(rid, entry.id, index, call_id, entry.arguments))
        await self._emit(
            FunctionCallArgumentsDone(rid, entry.id, index, call_id, name, entry.arguments)
        )
        await self._emit(OutputItemDone(rid, index, entry.snapshot()))
        await self._emit(ItemDone(entry.snapshot()))

    async def call_output(self, entry: Entry) -> None:
        """A server tool's result: a conversation item, not an output of the response."""
        previous_item_id = self._settings.conversation.add(entry)
        await self._emit(ItemAdded(entry.snapshot(), previous_item_id))
        await self._emit(ItemDone(entry.snapshot(), previous_item_id))

    async def close_message(self, *, completed: bool) -> None:
        message = self.message
        if message is None or not message.in_progress:
            return
        if completed and message.encoder is not None:
            for frame in message.encoder.flush():
                await self._send_frame(message, frame)
            message.spoken.clause_ended(message.playback.sent_ms)
        entry = message.entry
        entry.status = "completed" if completed else "incomplete"
        if completed:
            entry.audio_ms = message.playback.sent_ms
            entry.text = message.spoken.full_text()
        rid, index = self.response_id, message.output_index
        if self.audio:
            await self._emit(AudioDone(rid, entry.id, index, 0))
            await self._emit(AudioTranscriptDone(rid, entry.id, index, 0, entry.text))
        else:
            await self._emit(TextDone(rid, entry.id, index, 0, entry.text))
        await self._emit(ContentPartDone(rid, entry.id, index, 0, self._part_type, entry.text))
        await self._emit(OutputItemDone(rid, index, entry.snapshot()))
        await self._emit(ItemDone(entry.snapshot()))
        if completed:
            self._hand_over_sample(message)

    def _hand_over_sample(self, message: MessageOutput) -> None:
        sampler, audio = self._settings.sampler, message.sampled_audio
        message.sampled_audio = None
        if sampler is None or not audio:
            return
        sampler.sample(
            direction="output",
            item_id=message.entry.id,
            audio=np.concatenate(audio),
            rate_hz=message.sampled_rate_hz,
        )

    def cut(self, unqueued_clauses: list[str]) -> Interruption:
        """Barge-in: withdraw frames the transport has not taken; cut the text to the heard."""
        message = self.message
        if message is None or not message.in_progress:
            return Interruption(self.response_id, None, None, "", tuple(unqueued_clauses))
        withdrawn = self._settings.events.withdraw(
            lambda event: isinstance(event, AudioDelta) and event.item_id == message.entry.id
        )
        message.playback.frames_withdrawn(
            sum(event.duration_ms for event in withdrawn if isinstance(event, AudioDelta))
        )
        heard_ms = message.playback.heard_ms()
        spans = message.spoken.spans
        first_unheard = message.spoken.first_unheard_clause(heard_ms)
        unheard = [span.text for span in spans[first_unheard:]]
        heard_clauses = " ".join(span.text for span in spans[:first_unheard])
        flush = truncate_to_heard(message, heard_ms)
        return Interruption(
            self.response_id, message.entry, flush, heard_clauses, (*unheard, *unqueued_clauses)
        )

    async def _current_message(self) -> MessageOutput:
        if self.message is not None and self.message.in_progress:
            return self.message
        entry = items.assistant_message(audio=self.audio)
        message = MessageOutput(self.response_id, entry, len(self.items), self._settings)
        self.message = message
        self.messages.append(message)
        self._add(entry)
        self._settings.on_message(message)
        rid, index = self.response_id, message.output_index
        await self._emit(OutputItemAdded(rid, index, entry.snapshot()))
        await self._emit(ContentPartAdded(rid, entry.id, index, 0, self._part_type))
        return message

    async def _send_frame(self, message: MessageOutput, frame: bytes) -> None:
        await message.playback.wait_for_room()
        event = AudioDelta(
            self.response_id,
            message.entry.id,
            message.output_index,
            0,
            frame,
            audio_offset_ms=round(message.playback.sent_ms),
            duration_ms=message.frame_ms,
        )
        await self._emit(event)
        message.playback.frame_sent(message.frame_ms)
        self._on_first_audio()

    def _add(self, entry: Entry) -> None:
        self.items.append(entry)
        self._settings.conversation.add(entry)

    async def _emit(self, event: SessionEvent) -> None:
        await self._settings.events.put(event)
