"""The message store: chat history and the connection registry.

The interface follows DynamoDB's semantics so that every backend can honour it: appends are
conditional writes keyed by ``(chat_id, user_id, client_message_id)``; history is read in key
order, a page at a time, with an opaque cursor; connections expire by ``ttl``. Backends exchange
only the dataclasses below with the rest of the code.
"""

import base64
import binascii
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class NewMessage:
    """A message as the sender hands it to the store, before it has a place in the chat."""

    chat_id: str
    """The chat it belongs to."""
    user_id: str
    """The sender's user id."""
    username: str
    """The sender's username when it was sent."""
    body: str
    """The text of the message."""
    client_message_id: str
    """The sender's idempotency key: one message per (chat, sender, key)."""
    timestamp: int
    """When the server accepted it, in milliseconds since the epoch."""
    attachments: tuple = ()
    """Attachment descriptors (JSON-able dicts)."""
    kind: str = "text"
    """"text", or "system": a note of what a member did (added people, renamed the chat)."""
    reply_to: int = 0
    """The ``seq`` of the message it answers in the same chat (0: none)."""

    def stored_as(self, *, seq: int, message_id: str) -> "Message":
        """The message once the store has given it its place and id."""
        return Message(
            chat_id=self.chat_id,
            seq=seq,
            message_id=message_id,
            user_id=self.user_id,
            username=self.username,
            body=self.body,
            client_message_id=self.client_message_id,
            timestamp=self.timestamp,
            attachments=tuple(self.attachments),
            kind=self.kind,
            reply_to=self.reply_to,
        )


@dataclass(frozen=True)
class Message:
    """A stored message."""

    chat_id: str
    """The chat it belongs to."""
    seq: int
    """Its place in the chat: 1, 2, 3, ... with no holes."""
    message_id: str
    """Globally unique id assigned by the store."""
    user_id: str
    """The sender's user id."""
    username: str
    """The sender's username when it was sent."""
    body: str
    """The text of the message."""
    client_message_id: str
    """The sender's idempotency key."""
    timestamp: int
    """When the server accepted it, in milliseconds since the epoch."""
    attachments: tuple = ()
    """Attachment descriptors (JSON-able dicts)."""
    deleted: bool = False
    """A tombstone: the message was deleted; its text and attachments are gone, its place
    in the chat (``seq``) stays."""
    edited_at: int | None = None
    """When its sender last changed its text, in milliseconds since the epoch."""
    kind: str = "text"
    """"text", or "system": a note of what a member did."""
    reply_to: int = 0
    """The ``seq`` of the message it answers (0: none)."""


@dataclass(frozen=True)
class AppendResult:
    """The outcome of an append."""

    message: Message
    """The stored message: the new one, or the original for a retried key."""
    created: bool
    """False when the key had already been used and nothing new was stored."""


@dataclass(frozen=True)
class HistoryPage:
    """A page of history, newest first."""

    messages: list[Message]
    """The messages, highest ``seq`` first."""
    next_cursor: str | None
    """Opaque cursor for the next (older) page; None when this is the oldest."""

    @classmethod
    def from_overfetch(cls, chat_id: str, messages: list["Message"], limit: int) -> "HistoryPage":
        """The page of ``limit`` from ``limit + 1`` messages read newest first (the extra one
        only tells that an older page exists)."""
        if len(messages) <= limit:
            return cls(messages=messages, next_cursor=None)
        page = messages[:limit]
        return cls(messages=page, next_cursor=history_cursor(chat_id, before=page[-1].seq))


@dataclass(frozen=True)
class CatchUp:
    """Messages after a known ``seq``, oldest first."""

    messages: list[Message]
    """The messages, lowest ``seq`` first."""
    has_more: bool
    """True when more messages follow the last one returned."""

    @classmethod
    def from_overfetch(cls, messages: list["Message"], limit: int) -> "CatchUp":
        """The first ``limit`` of ``limit + 1`` messages read oldest first."""
        return cls(messages=messages[:limit], has_more=len(messages) > limit)


@dataclass(frozen=True)
class Connection:
    """An open socket in the registry."""

    connection_id: str
    """The socket's unique id (a UUID's hex, made when it opens)."""
    user_id: str
    """The user who opened it."""
    connected_at: int
    """When it opened, in milliseconds since the epoch."""
    ttl: int
    """When it expires without a heartbeat, in seconds since the epoch."""
    chat_id: str = ""
    """The chat it most recently joined ("" for none)."""


class StoreError(Exception):
    """The store could not complete an operation (unreachable, throttled, timed out)."""


class InvalidCursor(ValueError):
    """A history cursor that this store did not issue."""


def encode_cursor(position: dict) -> str:
    """Wrap a backend's page position as an opaque URL-safe token."""
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def history_cursor(chat_id: str, *, before: int) -> str:
    """The cursor of the history page of ``chat_id`` that ends just below ``seq == before``."""
    return encode_cursor({"chat": chat_id, "before": before})


def history_position(cursor: str, chat_id: str) -> int:
    """The ``before`` seq of a ``history_cursor``; ``InvalidCursor`` for any other token."""
    position = decode_cursor(cursor)
    before = position.get("before")
    if position.get("chat") != chat_id or not isinstance(before, int):
        raise InvalidCursor("This cursor belongs to another chat or store.")
    return before


def decode_cursor(cursor: str) -> dict:
    """Unwrap a token made by ``encode_cursor``; raise ``InvalidCursor`` for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeError, RecursionError) as exc:
        raise InvalidCursor("Malformed cursor.") from exc
    if not isinstance(position, dict):
        raise InvalidCursor("Malformed cursor.")
    return position


class MessageStore:
    """Base class of store backends. Every backend module exports ``MessageStore``."""

    def append(self, new: NewMessage) -> AppendResult:
        """Store ``new`` with the next ``seq`` of its chat, exactly once per idempotency key.

        Concurrent appends to one chat get consecutive ``seq`` values with no holes, even when
        some fail. An append whose ``(chat_id, user_id, client_message_id)`` was already stored
        stores nothing and returns the original with ``created=False``. Raises ``StoreError``
        when the store cannot be reached within its retry budget; the message may then have
        been stored, and a retry with the same key tells.
        """
        raise NotImplementedError

    def history(self, chat_id: str, *, limit: int, cursor: str | None = None) -> HistoryPage:
        """Return up to ``limit`` messages newest first, starting after ``cursor``'s page.

        Raises ``InvalidCursor`` for a cursor this store did not issue for this chat.
        """
        raise NotImplementedError

    def after(self, chat_id: str, *, after_seq: int, limit: int) -> CatchUp:
        """Return up to ``limit`` messages with ``seq > after_seq``, oldest first."""
        raise NotImplementedError

    def last_seq(self, chat_id: str) -> int:
        """Return the highest ``seq`` stored in the chat (0 for an empty chat)."""
        raise NotImplementedError

    def last_messages(self, chat_ids: list[str]) -> dict[str, Message]:
        """Return the newest message of each chat that has one, keyed by chat id."""
        raise NotImplementedError

    def message_find(self, chat_id: str, message_id: str) -> Message | None:
        """The chat's message with this id, or None."""
        raise NotImplementedError

    def messages_at(self, chat_id: str, seqs: list[int]) -> dict[int, Message]:
        """The chat's messages at these ``seq`` values that exist, keyed by ``seq`` (one round
        trip per hundred)."""
        raise NotImplementedError

    def search(self, chat_ids: list[str], words: list[str], *, limit: int) -> list[Message]:
        """Up to ``limit`` messages of these chats, newest first, whose text has a word
        starting with each of ``words`` (case-insensitive); tombstones and system notes are
        never found, an edited message by its new text only."""
        raise NotImplementedError

    def message_edit(self, chat_id: str, seq: int, *, body: str, edited_at: int) -> Message | None:
        """Replace the text of the message at ``seq`` (not of a tombstone) and return it; None
        if the chat has no such message or it was deleted."""
        raise NotImplementedError

    def message_delete(self, chat_id: str, seq: int) -> Message | None:
        """Make the message at ``seq`` a tombstone (no text, no attachments, ``deleted``) and
        return it; None if the chat has no such message. Deleting a tombstone changes
        nothing and returns it again."""
        raise NotImplementedError

    def chat_delete(self, chat_id: str) -> int:
        """Delete the chat's history: every message and its ``seq`` counter (a chat appended
        to afterwards starts again at 1). Returns how many messages were deleted."""
        raise NotImplementedError

    def connections_write(self, *, put: list[Connection], remove: list[str]) -> None:
        """Register (or replace) the sockets of ``put`` and forget those of ``remove``, in as
        few round trips as the backend allows. An id appears at most once in the two lists;
        removing an unknown socket is not an error."""
        raise NotImplementedError

    def connections_purge(self, *, now: int, limit: int = 1000) -> int:
        """Delete up to ``limit`` sockets expired at ``now`` (epoch seconds): those of processes
        that ended without closing them. Returns how many were deleted; 0 where the backend
        expires rows by itself."""
        raise NotImplementedError

    def connection_get(self, connection_id: str, *, now: int) -> Connection | None:
        """Return the socket unless it is unknown or expired at ``now`` (epoch seconds)."""
        raise NotImplementedError

    def connections_for_user(self, user_id: str, *, now: int) -> list[Connection]:
        """Return the user's sockets that have not expired at ``now`` (epoch seconds)."""
        raise NotImplementedError

    def users_online(self, user_ids: list[str], *, now: int) -> set[str]:
        """Those of ``user_ids`` with a socket that has not expired at ``now``."""
        raise NotImplementedError
