"""Real-time events: the one way a frame leaves for open sockets.

The service that makes a durable change calls one function here (``message_stored``,
``reactions_changed``, ``members_added``, ...); views and the consumer send nothing themselves,
except the consumer's ``typing``, which is stored nowhere. Model signals
(``chat.moderation.signals``) adapt changes made in Django admin or the shell to the same
functions; a service's writes are marked (``announcing``) so that they skip them and nothing is
sent twice.

Every frame is serialized once and leaves once the change commits (``transaction.on_commit``):

- a chat's frames go to its joined sockets on every process, through the fan-out
  (``chat.realtime.fanout``), in the order they were made;
- notices (a session ended, a user changed, a membership added or removed, a room changed or
  deleted) go to the processes' notices channel (``chat.realtime.notices``), where each process
  hands them to the sockets they concern.

A change made for a socket (in a worker thread, ``chat.realtime.db``) has its chat frames handed
back to the socket's event loop when the call returns, so the socket's own reply (an ``ack``)
is written first. Sending is best effort: a fan-out failure is logged and counted, never raised,
because the change is already stored and clients catch up with ``sync``.
"""

import asyncio
import contextlib
import contextvars
import functools
import json
from collections.abc import Iterator

from django.db import transaction

from chat.payloads import message_payload, message_reactions_payload
from chat.realtime.fanout import get_fanout
from chat.realtime.notices import notify, session_tag
from chat.stores.base import Message

# Chat frames made during a socket's database call, sent when it returns (``holding``).
_held: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "chat_events_held", default=None
)
# True while a service writes: model signals leave its changes to it (``announcing``).
_announcing: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "chat_events_announcing", default=False
)


def frame(payload: dict) -> str:
    """Serialize a server-to-client frame."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def message_frame(message: Message, quoted: Message | None = None) -> str:
    """The ``message`` frame every member socket receives for a new message.

    ``seq`` comes first: the fan-out orders a chat's frames by it
    (``chat.realtime.sequencer.seq_of``).
    """
    return frame(
        {
            "seq": message.seq,
            "type": "message",
            "chatId": message.chat_id,
            "message": message_payload(message, quoted=quoted),
        }
    )


# -- How frames leave -----------------------------------------------------------------------


def _to_chat(chat_id: str, text: str) -> None:
    held = _held.get()
    if held is not None:
        held.append((chat_id, text))
    else:
        get_fanout().send_threadsafe(chat_id, text)


def _to_chat_on_commit(chat_id: str, text: str) -> None:
    transaction.on_commit(functools.partial(_to_chat, chat_id, text))


@contextlib.contextmanager
def holding() -> Iterator[None]:
    """Keep the chat frames made inside (by a socket's database call, on whatever thread runs
    it) and send them, in order, from the event loop's next turn: after the socket has written
    its reply."""
    held: list[tuple[str, str]] = []
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
        if held:
            asyncio.get_running_loop().call_soon(_send_held, held)


def _send_held(held: list[tuple[str, str]]) -> None:
    fanout = get_fanout()
    for chat_id, text in held:
        fanout.send(chat_id, text)


def announcing(service):
    """Mark a service as announcing its own changes: model signals skip the writes it makes."""

    @functools.wraps(service)
    def wrapper(*args, **kwargs):
        token = _announcing.set(True)
        try:
            return service(*args, **kwargs)
        finally:
            _announcing.reset(token)

    return wrapper


def announced_by_service() -> bool:
    """True inside a service that announces its own changes (for the model signals)."""
    return _announcing.get()


# -- A chat's frames ---------------------------------------------------------------------------


def message_stored(message: Message, quoted: Message | None = None) -> None:
    """A new message (and the one it answers, if a reply) to the chat's sockets."""
    _to_chat_on_commit(message.chat_id, message_frame(message, quoted))


def message_edited(message: Message) -> None:
    _to_chat_on_commit(
        message.chat_id,
        frame(
            {"type": "messageEdited", "chatId": message.chat_id, "seq": message.seq,
             "messageId": message.message_id, "message": message.body,
             "editedAt": message.edited_at}
        ),
    )  # fmt: skip


def message_deleted(message: Message) -> None:
    _to_chat_on_commit(
        message.chat_id,
        frame(
            {"type": "messageDeleted", "chatId": message.chat_id, "seq": message.seq,
             "messageId": message.message_id}
        ),
    )  # fmt: skip


def reactions_changed(message: Message, reactions) -> None:
    """A message's reactions now (``selectors.Reactions``) to the chat's sockets."""
    payload = message_reactions_payload(message, reactions)
    _to_chat_on_commit(message.chat_id, frame({"type": "reactions", **payload}))


def delivered(*, chat_id: str, user_id: str, seq: int) -> None:
    """How far a member's client has received the chat."""
    _to_chat_on_commit(
        chat_id, frame({"type": "delivered", "chatId": chat_id, "userId": user_id, "seq": seq})
    )


def read(*, chat_id: str, user_id: str, seq: int) -> None:
    """How far a member has read the chat."""
    _to_chat_on_commit(
        chat_id, frame({"type": "read", "chatId": chat_id, "userId": user_id, "seq": seq})
    )


def typing(*, chat_id: str, user_id: str, username: str) -> None:
    """A member is typing: sent at once (nothing is stored), from the socket's event loop."""
    text = frame({"type": "typing", "chatId": chat_id, "userId": user_id, "username": username})
    get_fanout().send(chat_id, text)


# -- Notices: users' and rooms' changes --------------------------------------------------------


def session_ended(session_key: str) -> None:
    """A session (or an API token, ``token:<id>``) no longer logs anyone in: its sockets close."""
    notify("sessionEnded", session=session_tag(session_key))


def user_changed(user_id, *, username: str | None = None) -> None:
    """A user's standing may have changed: their sockets check their session again (and take
    up ``username``, their name now, when it is given)."""
    if username is None:
        notify("userChanged", userId=str(user_id))
    else:
        notify("userChanged", userId=str(user_id), username=username)


def members_added(chat, user_ids) -> None:
    """People are now in ``chat``: their chat lists show it (one notice for them all)."""
    notify(
        "membershipAdded", chatId=str(chat.pk), members=[str(each) for each in user_ids],
        chatName=chat.name, chatType=chat.chat_type,
    )  # fmt: skip


def member_removed(*, chat_id, user_id) -> None:
    """Someone left a chat or was removed: their sockets leave it and are told."""
    notify("membershipRemoved", chatId=str(chat_id), userId=str(user_id))


def chat_changed(chat) -> None:
    """A room was renamed, locked or archived: sockets that use it learn what it is now."""
    notify(
        "chatChanged", chatId=str(chat.pk), locked=chat.locked, archived=chat.archived,
        chatName=chat.name,
    )  # fmt: skip


def chat_deleted(*, chat_id, member_ids) -> None:
    """A room is gone: its members' sockets leave it and are told."""
    notify("chatDeleted", chatId=str(chat_id), members=[str(each) for each in member_ids])
