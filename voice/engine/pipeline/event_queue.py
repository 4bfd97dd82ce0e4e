"""The bounded queue between a session and its transport.

Unlike `asyncio.Queue` it can withdraw events that the transport has not taken yet: on a
barge-in, audio frames still waiting here are dropped instead of being sent and then flushed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from voice.engine.events import SessionEvent

DEFAULT_MAX_EVENTS = 256


class QueueClosed(Exception):
    """The session is closed: no more events will come."""


class EventQueue:
    def __init__(self, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        self._events: deque[SessionEvent] = deque()
        self._max_events = max_events
        self._not_empty = asyncio.Event()
        self._not_full = asyncio.Event()
        self._not_full.set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._events)

    async def put(self, event: SessionEvent) -> None:
        """Append an event, waiting while the transport is `max_events` behind (backpressure)."""
        while len(self._events) >= self._max_events and not self._closed:
            self._not_full.clear()
            await self._not_full.wait()
        if self._closed:
            return
        self._events.append(event)
        self._not_empty.set()

    def put_nowait(self, event: SessionEvent) -> None:
        """Append a rare control event (route decisions) even past the bound: never waits."""
        if not self._closed:
            self._events.append(event)
            self._not_empty.set()

    async def get(self) -> SessionEvent:
        while not self._events:
            if self._closed:
                raise QueueClosed
            self._not_empty.clear()
            await self._not_empty.wait()
        event = self._events.popleft()
        self._not_full.set()
        return event

    def pop_if(self, matches: Callable[[SessionEvent], bool]) -> SessionEvent | None:
        """The next event if it is already queued and matches; never waits."""
        if self._events and matches(self._events[0]):
            self._not_full.set()
            return self._events.popleft()
        return None

    def withdraw(self, matches: Callable[[SessionEvent], bool]) -> list[SessionEvent]:
        """Remove and return the queued events that match."""
        withdrawn = [event for event in self._events if matches(event)]
        if withdrawn:
            self._events = deque(event for event in self._events if not matches(event))
            self._not_full.set()
        return withdrawn

    def close(self) -> None:
        """Wake every waiter; `get` drains what is queued, then raises `QueueClosed`."""
        self._closed = True
        self._not_empty.set()
        self._not_full.set()
