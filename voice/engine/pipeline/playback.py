"""Output pacing and heard-audio accounting.

The server cannot hear the client's speaker, so it keeps a model of it: every frame starts
playing when it arrives (or when the frames before it have finished), at real-time speed. From
that model it paces output a small lead ahead of the play head, so that a barge-in has little to
flush, and it knows how much of an answer was heard when it was interrupted. A client that
reports its real playback position (`acknowledge`) replaces the model's estimate.

Once the lead is full, output waits until a refill's worth (100 ms) has played and then sends
that much at once, rather than one 20 ms frame every 20 ms: the frames sent together leave as
one audio event, so a speaking session wakes and sends once per refill (~120 ms) rather than
once per 20 ms frame, while the client's buffer stays between lead - refill and lead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from voice.engine.ports import Clock

DEFAULT_LEAD_MS = 300
DEFAULT_REFILL_MS = 100
# English TTS speaks ~14 characters per second.
ESTIMATED_MS_PER_CHAR = 70.0


class PlaybackClock:
    """The modelled play head of one output item's audio."""

    def __init__(
        self, clock: Clock, *, lead_ms: int = DEFAULT_LEAD_MS, refill_ms: int = DEFAULT_REFILL_MS
    ) -> None:
        self._clock = clock
        self._lead_s = lead_ms / 1000
        self._refill_s = min(refill_ms, lead_ms) / 1000
        # Sending until the lead is full, as opposed to waiting for room to refill.
        self._refilling = True
        self._buffered_until_s = 0.0
        self.sent_ms = 0.0
        self._ack_ms: float | None = None
        self._ack_at_s = 0.0

    def delay_before_next_s(self) -> float:
        """How long to wait before the next frame keeps the lead within bounds: none while
        the lead has room, else until a refill's worth of it has played."""
        ahead_s = self._buffered_until_s - self._clock.monotonic()
        if ahead_s > self._lead_s:
            self._refilling = False
        if self._refilling:
            return 0.0
        delay_s = ahead_s - (self._lead_s - self._refill_s)
        if delay_s <= 0:
            self._refilling = True  # until the lead is full again
            return 0.0
        return delay_s

    async def wait_for_room(self) -> None:
        delay_s = self.delay_before_next_s()
        if delay_s > 0:
            await asyncio.sleep(delay_s)

    def frame_sent(self, duration_ms: float) -> None:
        now_s = self._clock.monotonic()
        # After an underrun the client's buffer ran dry: the new frame plays from now.
        starts_at_s = max(self._buffered_until_s, now_s)
        self._buffered_until_s = starts_at_s + duration_ms / 1000
        self.sent_ms += duration_ms

    def frames_withdrawn(self, duration_ms: float) -> None:
        """Frames counted as sent were dropped before reaching the client (barge-in purge)."""
        withdrawn_ms = min(duration_ms, self.sent_ms)
        self.sent_ms -= withdrawn_ms
        self._buffered_until_s -= withdrawn_ms / 1000

    def acknowledge(self, played_ms: float) -> None:
        """The client reports that it has played this much of the item."""
        self._ack_ms = max(0.0, min(played_ms, self.sent_ms))
        self._ack_at_s = self._clock.monotonic()

    def unplayed_ms(self) -> float:
        return max(0.0, self._buffered_until_s - self._clock.monotonic()) * 1000

    def heard_ms(self) -> float:
        """Audio of this item that has left the client's speaker by now."""
        estimate_ms = self.sent_ms - min(self.sent_ms, self.unplayed_ms())
        if self._ack_ms is None:
            return estimate_ms
        since_ack_ms = (self._clock.monotonic() - self._ack_at_s) * 1000
        return min(self.sent_ms, self._ack_ms + since_ack_ms)


@dataclass(slots=True)
class ClauseSpan:
    """Where one spoken clause lies in its item's audio."""

    text: str
    start_ms: float
    end_ms: float | None = None


class SpokenText:
    """The clauses of one output item with their audio spans: maps heard audio to text."""

    def __init__(self) -> None:
        self.spans: list[ClauseSpan] = []

    def clause_started(self, text: str, at_ms: float) -> None:
        self.spans.append(ClauseSpan(text.strip(), at_ms))

    def clause_ended(self, at_ms: float) -> None:
        if self.spans and self.spans[-1].end_ms is None:
            self.spans[-1].end_ms = at_ms

    def full_text(self) -> str:
        return " ".join(span.text for span in self.spans if span.text)

    def first_unheard_clause(self, heard_ms: float) -> int:
        """Index of the first clause not heard to its end."""
        for index, span in enumerate(self.spans):
            if span.end_ms is None or span.end_ms > heard_ms:
                return index
        return len(self.spans)

    def heard_text(self, heard_ms: float) -> str:
        """The text heard by `heard_ms`: whole clauses, then a word-aligned share of the next."""
        index = self.first_unheard_clause(heard_ms)
        parts = [span.text for span in self.spans[:index] if span.text]
        if index < len(self.spans):
            partial = _proportional_prefix(self.spans[index], heard_ms)
            if partial:
                parts.append(partial)
        return " ".join(parts)


def _proportional_prefix(span: ClauseSpan, heard_ms: float) -> str:
    # Speech rate is close enough to uniform within one clause to cut it by time share. A
    # clause still streaming has no end yet: estimate it from a typical speaking rate.
    if span.end_ms is not None:
        end_ms = span.end_ms
    else:
        end_ms = span.start_ms + len(span.text) * ESTIMATED_MS_PER_CHAR
    duration_ms = end_ms - span.start_ms
    if duration_ms <= 0 or heard_ms <= span.start_ms:
        return ""
    share = min(1.0, (heard_ms - span.start_ms) / duration_ms)
    cut = int(len(span.text) * share)
    if cut >= len(span.text):
        return span.text
    # Only words heard to their end count: drop the word the cut falls into.
    prefix = span.text[:cut]
    if cut < len(span.text) and not span.text[cut].isspace():
        prefix = prefix.rsplit(" ", 1)[0] if " " in prefix else ""
    return prefix.rstrip()
