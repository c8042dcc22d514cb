"""Writes: every change to chats and messages goes through these functions.

Callers (views, API endpoints, consumers) parse and authorize; services validate, persist,
and send what the change means to open sockets through ``chat.realtime.events`` (it leaves once
the change commits). Callers send nothing themselves.
"""

import time
import unicodedata
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Greatest
from django.utils import timezone

from chat import accounts, errors, selectors
from chat.media.uploads import attachments_claim
from chat.models import ChatRoom, Contact, Membership, Presence, Reaction
from chat.moderation.actions import message_remove
from chat.ops import metrics
from chat.realtime import events
from chat.stores import get_store
from chat.stores.base import Message, NewMessage, StoreError
from chat.text import is_emoji, is_plain_line, is_storable

User = get_user_model()

CLIENT_MESSAGE_ID_MAX_LENGTH = 64
# The stored lastActivity is refreshed at most this often per chat and process, so a busy chat
# does not add a relational write to every send; readers take the newer of it and the last
# message's time (selectors.ListedChat.active_at), so what users see is always current.
ACTIVITY_REFRESH_SECONDS = 10.0
# Chats touched lately, oldest first; at most this many are remembered (a chat forgotten is
# touched again at its next send, one extra write).
ACTIVITY_REMEMBERED = 10_000
_activity_refreshed_at: OrderedDict[str, float] = OrderedDict()
# Sends whose store write failed with an unknown outcome (it may have been stored). If a retry
# finds the message stored, no member has been sent it yet, so that retry announces it.
UNCONFIRMED_LIMIT = 10_000
_unconfirmed: OrderedDict[tuple[str, str, str], None] = OrderedDict()
# Different emoji on one message (each may be put by every member).
REACTIONS_PER_MESSAGE = 20


@dataclass(frozen=True)
class SendResult:
    """The outcome of ``message_send``."""

    message: Message
    """The stored message (the original one for a retried ``client_message_id``)."""
    created: bool
    """False when the key had been used before and nothing new was stored."""
    quoted: Message | None = None
    """The message it answers, as it was read to check the reply (None: not a reply)."""


def _direct_key(first_id: int, second_id: int) -> str:
    low, high = sorted((first_id, second_id))
    return f"{low}:{high}"


def chat_create(
    *, creator: User, chat_type: str, participants: list[User], name: str = ""
) -> tuple[ChatRoom, bool]:
    """Create a chat of ``creator`` with ``participants``; return it and whether it is new.

    A direct chat has exactly one other participant and is unique per pair: asking again
    returns the existing chat. A group chat needs a name and at least one other participant.
    """
    others = {user.pk: user for user in participants if user.pk != creator.pk}
    name = (name or "").strip()
    if chat_type == ChatRoom.ChatType.DIRECT:
        if len(others) != 1:
            raise errors.InvalidInput("A direct chat needs exactly one other participant.")
        (other,) = others.values()
        key = _direct_key(creator.pk, other.pk)
        existing = ChatRoom.objects.filter(direct_key=key).first()
        if existing:
            return existing, False
        try:
            with transaction.atomic():
                chat = ChatRoom.objects.create(
                    chat_type=chat_type, direct_key=key, created_by=creator, name=""
                )
                Membership.objects.bulk_create(
                    [Membership(chat=chat, user=creator), Membership(chat=chat, user=other)]
                )
                events.members_added(chat, [creator.pk, other.pk])
        except IntegrityError:
            return ChatRoom.objects.get(direct_key=key), False
        return chat, True
    if chat_type != ChatRoom.ChatType.GROUP:
        raise errors.InvalidInput("chatType must be 'direct' or 'group'.")
    chat_name_check(name)
    if not others:
        raise errors.InvalidInput("A group chat needs at least one other participant.")
    if len(others) + 1 > settings.CHAT_GROUP_MAX_MEMBERS:
        raise errors.InvalidInput(
            f"A group chat has at most {settings.CHAT_GROUP_MAX_MEMBERS} members."
        )
    with transaction.atomic():
        chat = ChatRoom.objects.create(chat_type=chat_type, name=name, created_by=creator)
        members = [creator, *others.values()]
        Membership.objects.bulk_create([Membership(chat=chat, user=user) for user in members])
        events.members_added(chat, [user.pk for user in members])
    return chat, True


def chat_name_check(name: str) -> None:
    """``InvalidInput`` for a group name (the API's, the pages' and the admin's) that is empty,
    too long, or holds a character that cannot be stored or that hides what the name says (a
    newline, a direction override, a zero-width space)."""
    if not name:
        raise errors.InvalidInput("A group chat needs a name.")
    if len(name) > ChatRoom._meta.get_field("name").max_length:
        raise errors.InvalidInput("The chat name is too long.")
    if not is_storable(name) or not is_plain_line(name):
        raise errors.InvalidInput(
            "The chat name holds a control, line-break, zero-width or text-direction character.",
            code="invalid_name",
        )


def _check_text(body, *, may_be_empty: bool = False, key: str = "") -> None:
    """``InvalidInput`` for a message text that is empty (unless it may be: it has files),
    holds a character that cannot be stored (in it or its send ``key``), or is too long."""
    if not isinstance(body, str) or not (body.strip() or may_be_empty):
        raise errors.InvalidInput("The message is empty.", code="empty_message")
    if not is_storable(body) or not is_storable(key):
        raise errors.InvalidInput(
            "The message contains a character that cannot be stored (NUL or an unpaired "
            "surrogate).",
            code="invalid_text",
        )
    if len(body) > settings.CHAT_MESSAGE_MAX_LENGTH:
        raise errors.InvalidInput(
            f"The message is longer than {settings.CHAT_MESSAGE_MAX_LENGTH} characters.",
            code="too_long",
        )


def message_send(
    *,
    chat_id: str,
    user_id: str,
    username: str,
    body: str,
    client_message_id: str,
    attachment_ids: list | tuple = (),
    kind: str = "text",
    reply_to: str = "",
) -> SendResult:
    """Store a message; a retried ``client_message_id`` returns the original, storing nothing.
    ``attachment_ids`` are uploads of the sender's to this chat (``chat.media``): each is
    checked and taken out of quarantine first, and the message may then have no text.
    ``reply_to`` is the id of a message of the chat it answers (``NotFound`` if there is none
    or it was deleted).

    Precondition: the caller has checked that ``user_id`` is a member of ``chat_id``.
    Raises ``InvalidInput`` for an empty or over-long message or key, and ``Unavailable``
    when the store cannot take the write in time.
    """
    _check_text(body, may_be_empty=bool(attachment_ids), key=client_message_id)
    if not client_message_id or len(client_message_id) > CLIENT_MESSAGE_ID_MAX_LENGTH:
        raise errors.InvalidInput(
            f"clientMessageId must be 1 to {CLIENT_MESSAGE_ID_MAX_LENGTH} characters.",
            code="invalid_field",
        )
    quoted = _quoted(chat_id, reply_to) if reply_to else None
    attachments = ()
    if attachment_ids:
        attachments = attachments_claim(
            attachment_ids=attachment_ids, chat_id=chat_id, user_id=user_id,
            client_message_id=client_message_id,
        )  # fmt: skip
    new = NewMessage(
        chat_id=chat_id,
        user_id=user_id,
        username=username,
        body=body,
        client_message_id=client_message_id,
        timestamp=int(time.time() * 1000),
        attachments=tuple(attachments),
        kind=kind,
        reply_to=quoted.seq if quoted is not None else 0,
    )
    key = (chat_id, user_id, client_message_id)
    try:
        result = get_store().append(new)
    except StoreError as exc:
        _unconfirmed[key] = None
        while len(_unconfirmed) > UNCONFIRMED_LIMIT:
            _unconfirmed.popitem(last=False)
        raise errors.Unavailable() from exc
    was_unconfirmed = key in _unconfirmed
    _unconfirmed.pop(key, None)
    if result.created:
        metrics.MESSAGES_STORED.inc()
        _chat_touch(chat_id)
    if not result.created and result.message.reply_to != new.reply_to:
        # A retried key answers with the original, which quotes what it quoted.
        quoted = _message_at(chat_id, result.message.reply_to)
    if result.created or was_unconfirmed:  # the members have not been sent it yet
        events.message_stored(result.message, quoted)
    return SendResult(message=result.message, created=result.created, quoted=quoted)


def _message_at(chat_id: str, seq: int) -> Message | None:
    if not seq:
        return None
    with errors.store_unavailable_as_error():
        return get_store().messages_at(chat_id, [seq]).get(seq)


def _found(chat_id: str, message_id) -> Message:
    """The chat's message with this id; ``NotFound`` if there is none."""
    with errors.store_unavailable_as_error():
        well_formed = isinstance(message_id, str) and 0 < len(message_id) <= 64
        message = get_store().message_find(chat_id, message_id) if well_formed else None
    if message is None:
        raise errors.NotFound("No such message.", code="no_such_message")
    return message


def _quoted(chat_id: str, message_id) -> Message:
    message = _found(chat_id, message_id)
    if message.deleted:
        raise errors.NotFound("The message was deleted.", code="no_such_message")
    return message


def _chat_touch(chat_id: str) -> None:
    now = time.monotonic()
    if now - _activity_refreshed_at.get(chat_id, float("-inf")) < ACTIVITY_REFRESH_SECONDS:
        return
    _activity_refreshed_at[chat_id] = now
    _activity_refreshed_at.move_to_end(chat_id)
    while len(_activity_refreshed_at) > ACTIVITY_REMEMBERED:
        _activity_refreshed_at.popitem(last=False)
    ChatRoom.objects.filter(pk=chat_id).update(last_activity=timezone.now())


def message_mark_read(*, chat_id: str, user_id: str, seq: int) -> int:
    """Record that the member has read (and so received) the chat up to ``seq``; return the
    seq recorded: watermarks only move forward, and ``seq`` beyond the chat's last message is
    capped at it."""
    seq = min(seq, selectors.chat_last_seq(chat_id=chat_id))
    Membership.objects.filter(chat_id=chat_id, user_id=user_id).update(
        last_read_seq=Greatest("last_read_seq", seq),
        last_delivered_seq=Greatest("last_delivered_seq", seq),
    )
    events.read(chat_id=chat_id, user_id=user_id, seq=seq)
    return seq


def message_mark_delivered(*, chat_id: str, user_id: str, seq: int) -> int:
    """Record that the member's client has received the chat up to ``seq`` (capped at the
    chat's last message, as ``message_mark_read``); the seq recorded."""
    seq = min(seq, selectors.chat_last_seq(chat_id=chat_id))
    Membership.objects.filter(chat_id=chat_id, user_id=user_id).update(
        last_delivered_seq=Greatest("last_delivered_seq", seq)
    )
    events.delivered(chat_id=chat_id, user_id=user_id, seq=seq)
    return seq


def new_client_message_id() -> str:
    """A fresh idempotency key, for senders that do not supply one (forms, scripts)."""
    return uuid.uuid4().hex


def user_find(*, finder: User, username: str) -> list[User]:
    """The active user named exactly ``username``, if any, recorded as ``finder``'s contact:
    whom ``finder`` may then add to chats by id (``selectors.users_by_ids``)."""
    found = selectors.users_named(username)
    for user in found:
        if user.pk != finder.pk:
            Contact.objects.get_or_create(owner=finder, contact=user)
    return found


def _own_message(*, chat_id: str, message_id: str, user_id: str, verb: str) -> Message:
    """The sender's own message, still within the edit window; ``NotFound`` / ``Forbidden``.
    A system note (what a member's action made: "alice renamed the group") is nobody's to
    change: an edited one would still show as the chat's own words."""
    message = _found(chat_id, message_id)
    if message.kind == "system":
        raise errors.Forbidden(
            "Notes of what happened in the chat cannot be edited or deleted.",
            code="system_message",
        )
    if message.user_id != user_id:
        raise errors.Forbidden(f"You can {verb} only your own messages.", code="not_yours")
    window = settings.CHAT_EDIT_WINDOW_SECONDS
    if time.time() * 1000 - message.timestamp > window * 1000:
        hours = window // 3600
        raise errors.Forbidden(
            f"Messages can be changed for {hours} hours after they are sent.", code="too_late"
        )
    return message


def message_edit(*, chat_id: str, message_id: str, user_id: str, body: str) -> Message:
    """Change the text of the sender's own message (within ``CHAT_EDIT_WINDOW_SECONDS``) and
    tell the chat's open pages (``messageEdited``). The same text again changes nothing."""
    _check_text(body)
    message = _own_message(chat_id=chat_id, message_id=message_id, user_id=user_id, verb="edit")
    if message.deleted:
        raise errors.NotFound("The message was deleted.", code="no_such_message")
    if message.body == body:
        return message
    with errors.store_unavailable_as_error():
        edited = get_store().message_edit(
            chat_id, message.seq, body=body, edited_at=int(time.time() * 1000)
        )
    if edited is None:
        raise errors.NotFound("The message was deleted.", code="no_such_message")
    events.message_edited(edited)
    return edited


def message_delete(*, chat_id: str, message_id: str, user_id: str) -> Message:
    """Delete the sender's own message (within the edit window): the tombstone a moderator's
    delete leaves (``moderation.message_remove``). Deleting it again changes nothing."""
    message = _own_message(chat_id=chat_id, message_id=message_id, user_id=user_id, verb="delete")
    if message.deleted:
        return message
    with errors.store_unavailable_as_error():
        return message_remove(chat_id=chat_id, seq=message.seq, original=message) or message


def reaction_set(
    *, chat_id: str, user_id: str, message_id: str, emoji: str, on: bool
) -> tuple[Message, tuple[selectors.Reactions, ...]]:
    """Put (``on``) or take back the member's ``emoji`` on a message of the chat, and tell the
    chat's open pages (``reactions``); the message and its reactions now. Setting what is
    already so changes nothing (a retried request is harmless)."""
    if not is_emoji(emoji):
        raise errors.InvalidInput("A reaction is one emoji.", code="invalid_field")
    message = _found(chat_id, message_id)
    if message.deleted or message.kind != "text":
        raise errors.NotFound("This message takes no reactions.", code="no_such_message")
    if on:
        with transaction.atomic():
            # Reactions to a chat's messages are put one at a time (the chat's row locked), so
            # that concurrent new kinds cannot all pass the cap.
            ChatRoom.objects.select_for_update().filter(pk=chat_id).exists()
            present = Reaction.objects.filter(chat_id=chat_id, seq=message.seq)
            kinds = set(present.values_list("emoji", flat=True))
            if emoji not in kinds and len(kinds) >= REACTIONS_PER_MESSAGE:
                raise errors.InvalidInput(
                    f"A message has at most {REACTIONS_PER_MESSAGE} different reactions.",
                    code="too_many_reactions",
                )
            _, changed = Reaction.objects.get_or_create(
                chat_id=chat_id, seq=message.seq, user_id=int(user_id), emoji=emoji
            )
    else:
        mine = Reaction.objects.filter(
            chat_id=chat_id, seq=message.seq, user_id=int(user_id), emoji=emoji
        )
        changed = mine.delete()[0] > 0
    reactions = selectors.message_reactions(chat_id=chat_id, seqs=[message.seq]).get(
        message.seq, ()
    )
    if changed:
        events.reactions_changed(message, reactions)
    return message, reactions


# -- Groups: renaming, adding and removing members, leaving ------------------------------------


def _group_of_member(chat: ChatRoom) -> None:
    if chat.chat_type != ChatRoom.ChatType.GROUP:
        raise errors.InvalidInput("Only a group chat has members to manage.", code="not_a_group")


def _system_note(chat: ChatRoom, actor: User, text: str) -> SendResult:
    """A "system" message in the chat saying what ``actor`` did."""
    return message_send(
        chat_id=str(chat.pk), user_id=str(actor.pk), username=actor.get_username(), body=text,
        client_message_id=new_client_message_id(), kind="system",
    )  # fmt: skip


@events.announcing
def group_rename(*, chat: ChatRoom, actor: User, name: str) -> SendResult | None:
    """Rename a group (any member may); the note saying so, or None if the name is the same."""
    _group_of_member(chat)
    name = (name or "").strip()
    chat_name_check(name)
    if name == chat.name:
        return None
    chat.name = name
    chat.save(update_fields=["name"])
    events.chat_changed(chat)
    return _system_note(chat, actor, f"{actor.get_username()} renamed the group to {name}")


def group_add(*, chat: ChatRoom, actor: User, people: list[User]) -> SendResult | None:
    """Add people to a group (any member may add people they know); the note saying so, or
    None if they were all members already."""
    _group_of_member(chat)
    present = set(chat.memberships.values_list("user_id", flat=True))
    new = [user for user in people if user.pk not in present]
    if not new:
        return None
    if len(present) + len(new) > settings.CHAT_GROUP_MAX_MEMBERS:
        raise errors.InvalidInput(
            f"A group chat has at most {settings.CHAT_GROUP_MAX_MEMBERS} members."
        )
    with transaction.atomic():
        Membership.objects.bulk_create([Membership(chat=chat, user=user) for user in new])
        events.members_added(chat, [user.pk for user in new])
    names = ", ".join(user.get_username() for user in new)
    return _system_note(chat, actor, f"{actor.get_username()} added {names}")


@events.announcing
def group_remove(*, chat: ChatRoom, actor: User, member: User) -> SendResult | None:
    """Remove ``member`` from a group: themselves (leaving), or anyone if ``actor`` created the
    group; the note saying so, or None if they were not a member."""
    _group_of_member(chat)
    if member.pk != actor.pk and chat.created_by_id != actor.pk:
        raise errors.Forbidden(
            "Only the person who created the group can remove others.", code="not_the_creator"
        )
    removed, _ = Membership.objects.filter(chat=chat, user=member).delete()
    if not removed:
        return None
    events.member_removed(chat_id=chat.pk, user_id=member.pk)
    if member.pk == actor.pk:
        return _system_note(chat, actor, f"{actor.get_username()} left")
    return _system_note(chat, actor, f"{actor.get_username()} removed {member.get_username()}")


@events.announcing
def user_rename(*, user: User, username: str) -> None:
    """Give ``user`` a new name under the sign-up rules (``accounts.username_check``);
    ``InvalidInput`` if it breaks one. Their open sockets take it up: what they send from then
    on carries it."""
    username = unicodedata.normalize("NFKC", username) if isinstance(username, str) else ""
    try:
        accounts.username_check(username, besides_user_id=user.pk)
        with transaction.atomic():
            user.username = username
            user.save(update_fields=["username"])
    except ValidationError as exc:
        raise errors.InvalidInput(exc.messages[0], code="invalid_username") from None
    except IntegrityError:  # taken meanwhile
        user.refresh_from_db(fields=["username"])
        raise errors.InvalidInput(
            "A user with that username already exists.", code="invalid_username"
        ) from None
    events.user_changed(user.pk, username=username)


def presence_seen(*, user_ids) -> None:
    """Record that these users were connected until now (their sockets just closed)."""
    now = timezone.now()
    Presence.objects.bulk_create(
        [Presence(user_id=int(user_id), last_seen=now) for user_id in user_ids],
        update_conflicts=True, unique_fields=["user"], update_fields=["last_seen"],
    )  # fmt: skip
