"""The session's conversation: ordered items, as the client sees them and as the LLM reads them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from voice.engine.errors import InvalidRequestError
from voice.engine.events import ContentType, Item, ItemKind, ItemRole, ItemStatus, new_id
from voice.engine.llm.base import ChatMessage, ToolCall

# Beyond this many items the oldest are dropped: the context builder's summary covers them.
MAX_ITEMS = 400


@dataclass(slots=True)
class Entry:
    """One conversation item; mutable because answers are truncated to what was heard."""

    id: str
    kind: ItemKind
    role: ItemRole | None = None
    content_type: ContentType | None = None
    text: str = ""
    call_id: str | None = None
    name: str | None = None
    arguments: str = ""
    output: str = ""
    status: ItemStatus = "completed"
    truncated: bool = False
    # Audio duration of an assistant audio message, for validating `truncate`.
    audio_ms: float = 0.0

    def snapshot(self) -> Item:
        return Item(
            id=self.id,
            kind=self.kind,
            role=self.role,
            content_type=self.content_type,
            text=self.text if self.kind == "message" else None,
            call_id=self.call_id,
            name=self.name,
            arguments=self.arguments if self.kind == "function_call" else None,
            output=self.output if self.kind == "function_call_output" else None,
            status=self.status,
        )


def user_message(text: str, *, item_id: str | None = None, audio: bool = False) -> Entry:
    return Entry(
        id=item_id or new_id("item"),
        kind="message",
        role="user",
        content_type="input_audio" if audio else "input_text",
        text=text,
    )


def assistant_message(*, audio: bool, item_id: str | None = None) -> Entry:
    return Entry(
        id=item_id or new_id("item"),
        kind="message",
        role="assistant",
        content_type="output_audio" if audio else "output_text",
        status="in_progress",
    )


def function_call(*, call_id: str, name: str, arguments: str) -> Entry:
    return Entry(
        id=new_id("item"), kind="function_call", call_id=call_id, name=name, arguments=arguments
    )


def function_call_output(*, call_id: str, output: str, item_id: str | None = None) -> Entry:
    return Entry(
        id=item_id or new_id("item"), kind="function_call_output", call_id=call_id, output=output
    )


def entry_from_item(item: Item) -> Entry:
    """The entry for a client's `conversation.item.create`: a user/assistant/system text
    message or a `function_call_output` (raises for any other kind)."""
    item_id = item.id or None
    if item.kind == "function_call_output":
        return function_call_output(
            call_id=item.call_id or "", output=item.output or "", item_id=item_id
        )
    if item.kind == "message" and item.role in ("user", "assistant", "system"):
        entry = user_message(item.text or "", item_id=item_id)
        entry.role = item.role
        entry.content_type = "output_text" if item.role == "assistant" else "input_text"
        return entry
    raise InvalidRequestError(f"cannot add an item of kind {item.kind!r}", param="item.type")


class Conversation:
    """Items in order, with lookups by item id and call id."""

    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self.dropped_items = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(self._entries)

    @property
    def last_item_id(self) -> str | None:
        return self._entries[-1].id if self._entries else None

    def add(self, entry: Entry) -> str | None:
        """Append an item; return the id of the item before it."""
        if entry.kind == "function_call_output":
            self._require_call(entry.call_id)
        previous_item_id = self.last_item_id
        self._entries.append(entry)
        if len(self._entries) > MAX_ITEMS:
            del self._entries[0]
            self.dropped_items += 1
        return previous_item_id

    def get(self, item_id: str) -> Entry:
        for entry in reversed(self._entries):
            if entry.id == item_id:
                return entry
        raise InvalidRequestError(f"no item with id {item_id!r}", param="item_id")

    def remove(self, item_id: str) -> Entry:
        entry = self.get(item_id)
        self._entries.remove(entry)
        return entry

    def pending_call_ids(self) -> set[str]:
        """Function calls that have no output yet."""
        calls = {e.call_id for e in self._entries if e.kind == "function_call" and e.call_id}
        answered = {e.call_id for e in self._entries if e.kind == "function_call_output"}
        return calls - answered

    def _require_call(self, call_id: str | None) -> None:
        known = any(e.kind == "function_call" and e.call_id == call_id for e in self._entries)
        if not known:
            raise InvalidRequestError(
                f"function_call_output for unknown call_id {call_id!r}", param="item.call_id"
            )

    def chat_messages(self) -> tuple[ChatMessage, ...]:
        return to_chat_messages(self._entries)

    def mark(self) -> int:
        """A position in the conversation's history, for `entries_since`."""
        return len(self._entries) + self.dropped_items

    def entries_since(self, mark: int) -> tuple[Entry, ...]:
        added = min(len(self._entries), self.mark() - mark)
        return tuple(self._entries[len(self._entries) - added :]) if added > 0 else ()


def to_chat_messages(entries: Iterable[Entry]) -> tuple[ChatMessage, ...]:
    """Items as chat messages: an answer's text and its tool calls form one assistant message."""
    messages: list[ChatMessage] = []
    for entry in entries:
        message = _chat_message(entry)
        if message is None:
            continue
        if messages and message.role == "assistant" and messages[-1].role == "assistant":
            messages[-1] = _merge_assistant(messages[-1], message)
        else:
            messages.append(message)
    return tuple(messages)


def _chat_message(entry: Entry) -> ChatMessage | None:
    if entry.kind == "function_call":
        call = ToolCall(
            id=entry.call_id or entry.id, name=entry.name or "", arguments=entry.arguments
        )
        return ChatMessage(role="assistant", tool_calls=(call,), item_id=entry.id)
    if entry.kind == "function_call_output":
        return ChatMessage(
            role="tool", content=entry.output, tool_call_id=entry.call_id, item_id=entry.id
        )
    if not entry.text.strip() or entry.role is None:
        return None
    return ChatMessage(
        role=entry.role, content=entry.text, item_id=entry.id, truncated=entry.truncated
    )


def _merge_assistant(first: ChatMessage, second: ChatMessage) -> ChatMessage:
    # A resumed answer and a tool call after spoken text belong to the same assistant turn.
    content = " ".join(part for part in (first.content, second.content) if part)
    return ChatMessage(
        role="assistant",
        content=content,
        tool_calls=first.tool_calls + second.tool_calls,
        item_id=first.item_id or second.item_id,
        truncated=first.truncated or second.truncated,
    )
