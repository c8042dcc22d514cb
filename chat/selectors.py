"""Reads: what a user may see of chats and their history.

Selectors return data (models, store messages and the small records below); the wire shapes
the API, the socket and the pages send are rendered from them in one place, ``chat.payloads``.
"""

import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q

from chat import errors
from chat.models import ChatRoom, Contact, Membership, Presence, Reaction
from chat.ops.metrics import HISTORY_SECONDS, observed
from chat.stores import get_store
from chat.stores.base import InvalidCursor, Message, decode_cursor, encode_cursor
from chat.text import decimal_id, is_storable

User = get_user_model()

HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 200
CHAT_LIST_LIMIT = 100
CHAT_LIST_MAX_LIMIT = 200
# Most users one presence query asks about.
PRESENCE_MAX_USERS = 200


@dataclass(frozen=True)
class Member:
    user_id: str
    username: str


@dataclass(frozen=True)
class Receipt:
    """How far a member has received and read a chat (the watermarks receipts are drawn from)."""

    user_id: str
    username: str
    delivered: int
    read: int


@dataclass(frozen=True)
class Reactions:
    """One emoji on a message, and who put it (in the order they did)."""

    emoji: str
    user_ids: tuple[str, ...]


@dataclass(frozen=True)
class ShownMessage:
    """A stored message as a member sees it: whether the other members have received and read
    it, the message it answers (if a reply) and its reactions."""

    message: Message
    delivered: bool = False
    read: bool = False
    quoted: Message | None = None
    reactions: tuple[Reactions, ...] = ()


@dataclass(frozen=True)
class MessagePage:
    """A page of history, newest first; ``next_cursor`` reads the older one (None: no more)."""

    messages: list[ShownMessage]
    next_cursor: str | None


@dataclass(frozen=True)
class CatchUp:
    """Messages after a seq, oldest first; ``has_more`` when the limit cut them short."""

    messages: list[ShownMessage]
    has_more: bool


@dataclass(frozen=True)
class ListedChat:
    """A chat as its member's list shows it: members, last message, what is unread."""

    chat: ChatRoom
    members: list[Member]
    last_message: Message | None = None
    unread: int = 0

    @property
    def active_at(self) -> datetime:
        """The newer of the stored ``last_activity`` (refreshed every few seconds while the chat
        is busy) and the last message's time."""
        if self.last_message is None:
            return self.chat.last_activity
        sent = datetime.fromtimestamp(self.last_message.timestamp / 1000, tz=UTC)
        return max(self.chat.last_activity, sent)


@dataclass(frozen=True)
class ChatPage:
    chats: list[ListedChat]
    next_cursor: str | None


@dataclass(frozen=True)
class Seen:
    """Whether a user is online, and when they were last."""

    user_id: str
    online: bool
    last_seen: datetime | None


@dataclass(frozen=True)
class Suggestion:
    user: User
    known: bool


@dataclass(frozen=True)
class SearchHit:
    chat_name: str
    message: Message


def _well_formed(chat_id: str) -> bool:
    try:
        uuid.UUID(str(chat_id))
    except ValueError:
        return False
    return True


def member_access(*, chat_id: str, user_id: str) -> bool | None:
    """None when the user is not in the chat (or the chat id is unknown or malformed); else
    whether they may send to it: False while the chat is locked or archived."""
    if not _well_formed(chat_id):
        return None
    # Every socket's join asks this: a plain statement, without the ORM building and compiling
    # the query each time (most of the call's time, in a profile).
    meta, rooms = Membership._meta, ChatRoom._meta
    chat, user = meta.get_field("chat"), meta.get_field("user")
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.{quote('locked')}, r.{quote('archived')} "
            f"FROM {quote(meta.db_table)} m JOIN {quote(rooms.db_table)} r "
            f"ON r.{quote(rooms.pk.column)} = m.{quote(chat.column)} "
            f"WHERE m.{quote(chat.column)} = %s AND m.{quote(user.column)} = %s",
            [
                chat.target_field.get_db_prep_value(chat_id, connection),
                user.target_field.get_db_prep_value(user_id, connection),
            ],
        )
        row = cursor.fetchone()
    return None if row is None else not (row[0] or row[1])


def chat_for_sender(*, chat_id: str, user: User) -> ChatRoom:
    """``chat_for_member``, and ``Locked`` if the chat is locked or archived."""
    chat = chat_for_member(chat_id=chat_id, user=user)
    if chat.locked or chat.archived:
        raise errors.Locked()
    return chat


def chat_last_seq(*, chat_id: str) -> int:
    """The highest ``seq`` stored in the chat (0 for an empty chat)."""
    with errors.store_unavailable_as_error():
        return get_store().last_seq(chat_id)


def chat_for_member(*, chat_id: str, user: User) -> ChatRoom:
    """Return the chat if ``user`` is a member; ``NotFound`` if unknown, else ``Forbidden``."""
    if not _well_formed(chat_id):
        raise errors.NotFound("No such chat.")
    membership = Membership.objects.filter(chat_id=chat_id, user=user).select_related("chat")
    for member in membership:
        return member.chat
    raise _not_a_member(chat_id)


def _not_a_member(chat_id: str) -> errors.ChatError:
    """The error for a user outside the chat: ``Forbidden`` if it exists, else ``NotFound``."""
    if ChatRoom.objects.filter(pk=chat_id).exists():
        return errors.Forbidden("You are not a member of this chat.")
    return errors.NotFound("No such chat.")


def chat_member(chat: ChatRoom, user_id: str) -> User:
    """A member of the chat by user id; ``NotFound`` if there is no such member."""
    membership = None
    if decimal_id(user_id) is not None:
        membership = chat.memberships.select_related("user").filter(user_id=user_id).first()
    if membership is None:
        raise errors.NotFound("No such member of this chat.", code="no_such_member")
    return membership.user


def chat_members(chat: ChatRoom) -> list[Member]:
    """The chat's members, in joining order."""
    rows = chat.memberships.order_by("joined_at", "pk").values_list("user_id", "user__username")
    return [Member(str(user_id), username) for user_id, username in rows]


def chat_summary(*, chat_id: str, user: User) -> ListedChat:
    """One chat as the chat list shows it to ``user`` (a member): its members, last message and
    unread count. ``NotFound`` / ``Forbidden`` as ``chat_for_member``."""
    if not _well_formed(chat_id):
        raise errors.NotFound("No such chat.")
    membership = Membership.objects.filter(chat_id=chat_id, user=user).select_related("chat")
    membership = membership.first()
    if membership is None:
        raise _not_a_member(chat_id)
    canonical = str(membership.chat_id)  # the store keys chats by this spelling only
    with errors.store_unavailable_as_error():
        newest = get_store().last_messages([canonical]).get(canonical)
    return _listed(membership, chat_members(membership.chat), newest)


def _listed(membership: Membership, members: list[Member], newest) -> ListedChat:
    """A member's chat as listed: with its last message and what of it they have not read."""
    unread = max(0, newest.seq - membership.last_read_seq) if newest else 0
    return ListedChat(membership.chat, members, last_message=newest, unread=unread)


def chat_list_for_user(
    *, user_id: str, limit: int = CHAT_LIST_LIMIT, cursor: str | None = None
) -> ChatPage:
    """A page of the user's chats, most recently active first, with last message and unread
    count (``next_cursor`` is None on the last page).

    Pages follow the chats' stored ``lastActivity`` (refreshed every few seconds while a chat
    is busy), so they never overlap or skip a chat; within a page, a chat whose last message
    is newer than that comes first. ``InvalidInput`` for a cursor this did not issue.
    """
    limit = max(1, min(limit, CHAT_LIST_MAX_LIMIT))
    memberships = Membership.objects.filter(user_id=user_id, chat__archived=False)
    memberships = memberships.select_related("chat")
    if cursor is not None:
        activity, chat_pk = _chat_list_position(cursor)
        memberships = memberships.filter(
            Q(chat__last_activity__lt=activity)
            | Q(chat__last_activity=activity, chat__pk__lt=chat_pk)
        )
    memberships = list(memberships.order_by("-chat__last_activity", "-chat__pk")[: limit + 1])
    more = len(memberships) > limit
    memberships = memberships[:limit]
    chats = [m.chat for m in memberships]
    members: dict = {chat.pk: [] for chat in chats}
    for chat_pk, member_id, username in (
        Membership.objects.filter(chat__in=chats)
        .order_by("joined_at", "pk")
        .values_list("chat_id", "user_id", "user__username")
    ):
        members[chat_pk].append(Member(str(member_id), username))
    with errors.store_unavailable_as_error():
        last = get_store().last_messages([str(chat.pk) for chat in chats])

    listed = [_listed(m, members[m.chat_id], last.get(str(m.chat_id))) for m in memberships]
    # To the millisecond, as shown: chats active in the same one keep the page's order.
    listed.sort(key=lambda item: _to_ms(item.active_at), reverse=True)
    tail = chats[-1] if more else None
    next_cursor = (
        encode_cursor({"activity": tail.last_activity.isoformat(), "chat": str(tail.pk)})
        if tail
        else None
    )
    return ChatPage(listed, next_cursor)


def _to_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _chat_list_position(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        position = decode_cursor(cursor)
        return datetime.fromisoformat(position["activity"]), uuid.UUID(position["chat"])
    except (InvalidCursor, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise errors.InvalidInput("Malformed cursor.", code="invalid_cursor") from exc


def chat_receipts(chat: ChatRoom) -> list[Receipt]:
    """How far each member has received and read the chat, in joining order."""
    rows = chat.memberships.order_by("joined_at", "pk").values_list(
        "user_id", "user__username", "last_delivered_seq", "last_read_seq"
    )
    return [Receipt(str(uid), name, delivered, read) for uid, name, delivered, read in rows]


def _watermarks(chat_id: str) -> list[tuple[str, int, int]]:
    """Every member's ``(user_id, last_delivered_seq, last_read_seq)`` in the chat."""
    rows = Membership.objects.filter(chat_id=chat_id).values_list(
        "user_id", "last_delivered_seq", "last_read_seq"
    )
    return [(str(user_id), delivered, read) for user_id, delivered, read in rows]


def message_reactions(*, chat_id: str, seqs: list[int]) -> dict[int, tuple[Reactions, ...]]:
    """The reactions on these messages of the chat: per ``seq``, each emoji in the order it was
    first put (one query)."""
    rows = (
        Reaction.objects.filter(chat_id=chat_id, seq__in=list(seqs))
        .order_by("created_at", "pk")
        .values_list("seq", "emoji", "user_id")
    )
    found: dict[int, dict[str, list[str]]] = {}
    for seq, emoji, user_id in rows:
        found.setdefault(seq, {}).setdefault(emoji, []).append(str(user_id))
    return {
        seq: tuple(Reactions(emoji, tuple(users)) for emoji, users in by_emoji.items())
        for seq, by_emoji in found.items()
    }


def _quotes(messages: list[Message]) -> dict[int, Message]:
    """The messages these replies answer, keyed by ``seq``: from the page where they are in
    it, the rest in one store read."""
    if not messages:
        return {}
    wanted = {m.reply_to for m in messages if m.reply_to}
    here = {m.seq: m for m in messages if m.seq in wanted}
    missing = sorted(wanted - here.keys())
    if missing:
        with errors.store_unavailable_as_error():
            here.update(get_store().messages_at(messages[0].chat_id, missing))
    return here


def _flagged(messages: list[Message], marks: list[tuple[str, int, int]]) -> list[ShownMessage]:
    """The messages with ``delivered``/``read`` derived from the other members' watermarks, the
    messages replies answer and the reactions."""
    quotes = _quotes(messages)
    reactions = (
        message_reactions(chat_id=messages[0].chat_id, seqs=[m.seq for m in messages])
        if messages
        else {}
    )
    by_sender: dict[str, tuple[int, int]] = {}
    shown = []
    for message in messages:
        if message.user_id not in by_sender:
            others = [(d, r) for uid, d, r in marks if uid != message.user_id]
            by_sender[message.user_id] = (
                min((d for d, _ in others), default=0),
                min((r for _, r in others), default=0),
            )
        delivered_upto, read_upto = by_sender[message.user_id]
        read = message.seq <= read_upto
        shown.append(
            ShownMessage(
                message,
                delivered=read or message.seq <= delivered_upto,
                read=read,
                quoted=quotes.get(message.reply_to),
                reactions=reactions.get(message.seq, ()),
            )
        )
    return shown


@observed(HISTORY_SECONDS)
def _history_page(chat_id: str, limit: int, cursor: str | None, marks) -> MessagePage:
    limit = max(1, min(limit, HISTORY_MAX_LIMIT))
    try:
        with errors.store_unavailable_as_error():
            page = get_store().history(chat_id, limit=limit, cursor=cursor)
    except InvalidCursor as exc:
        raise errors.InvalidInput(str(exc), code="invalid_cursor") from exc
    return MessagePage(_flagged(page.messages, marks), next_cursor=page.next_cursor)


@observed(HISTORY_SECONDS)
def _catch_up_page(chat_id: str, after_seq: int, limit: int, marks=None) -> CatchUp:
    limit = max(1, min(limit, HISTORY_MAX_LIMIT))
    with errors.store_unavailable_as_error():
        page = get_store().after(chat_id, after_seq=max(0, after_seq), limit=limit)
    if page.messages and marks is None:
        marks = _watermarks(chat_id)
    return CatchUp(_flagged(page.messages, marks), has_more=page.has_more)


def message_catch_up(*, chat_id: str, after_seq: int, limit: int = HISTORY_MAX_LIMIT) -> CatchUp:
    """Messages after ``after_seq``, oldest first."""
    return _catch_up_page(chat_id, after_seq, limit)


def member_history(
    *,
    chat_id: str,
    user: User,
    limit: int = HISTORY_DEFAULT_LIMIT,
    cursor: str | None = None,
    after_seq: int | None = None,
) -> MessagePage | CatchUp:
    """A page of the chat's history for a member, newest first; with ``after_seq``,
    ``message_catch_up`` instead.

    ``NotFound`` for an unknown chat, ``Forbidden`` for a non-member. The membership check and
    the watermarks the page's flags need are one query.
    """
    if not _well_formed(chat_id):
        raise errors.NotFound("No such chat.")
    chat_id = str(uuid.UUID(chat_id))
    marks = _watermarks(chat_id)
    if not any(user_id == str(user.pk) for user_id, _, _ in marks):
        raise _not_a_member(chat_id)
    if after_seq is not None:
        return _catch_up_page(chat_id, after_seq, limit, marks)
    return _history_page(chat_id, limit, cursor, marks)


def _known_to(user: User) -> Q:
    """The people ``user`` knows: they share a chat, or ``user`` found them by their exact
    username (a ``Contact``)."""
    shares_a_chat = Q(memberships__chat__memberships__user=user)
    return shares_a_chat | Q(pk__in=Contact.objects.filter(owner=user).values("contact"))


def users_by_ids(user_ids: list[str], *, known_to: User) -> list[User]:
    """The active users with these ids whom ``known_to`` knows: they share a chat, or
    ``known_to`` found them by their exact username (a ``Contact``). ``InvalidInput`` names the
    other ids, whether or not they exist, so that ids cannot be probed for accounts."""
    wanted = {str(user_id).strip() for user_id in user_ids}
    numeric = {user_id for user_id in wanted if decimal_id(user_id) is not None}
    known = _known_to(known_to) | Q(pk=known_to.pk)
    users = list(User.objects.filter(known, pk__in=numeric, is_active=True).distinct())
    missing = wanted - {str(user.pk) for user in users}
    if missing:
        raise errors.InvalidInput(
            f"Unknown user id(s): {', '.join(sorted(missing))}. Find people by their username "
            "first.",
            code="unknown_user",
        )
    return users


def users_by_usernames(usernames: list[str], *, known_to: User) -> list[User]:
    """The active users with these usernames whom ``known_to`` knows (as ``users_by_ids``).
    ``InvalidInput`` names the others in the same words whether or not they exist, so that a
    form cannot be used to guess accounts."""
    wanted = {name.strip() for name in usernames if name.strip()}
    known = _known_to(known_to) | Q(pk=known_to.pk)
    users = list(User.objects.filter(known, username__in=wanted, is_active=True).distinct())
    missing = wanted - {user.username for user in users}
    if missing:
        raise errors.InvalidInput(
            f"You have no contact called {', '.join(sorted(missing))}. Find people by their "
            "exact username first (the suggestions do when you pick someone).",
            code="unknown_user",
        )
    return users


def users_named(username: str) -> list[User]:
    """Active users whose username is exactly ``username`` (no prefix search, no enumeration)."""
    return list(User.objects.filter(username=username.strip(), is_active=True))


def presence(*, viewer: User, user_ids: list[str]) -> list[Seen]:
    """Online state and last-seen time of those of ``user_ids`` who share a chat with
    ``viewer`` (others are left out). Online means a socket in the connection registry that
    has not expired (heartbeats refresh it)."""
    wanted = {u for u in map(decimal_id, user_ids) if u is not None}
    shared = set(
        Membership.objects.filter(user_id__in=wanted, chat__memberships__user=viewer).values_list(
            "user_id", flat=True
        )
    )
    visible = sorted(str(u) for u in shared)
    if not visible:
        return []
    with errors.store_unavailable_as_error():
        online = get_store().users_online(visible, now=int(time.time()))
    seen = dict(Presence.objects.filter(user_id__in=visible).values_list("user_id", "last_seen"))
    return [Seen(user_id, user_id in online, seen.get(int(user_id))) for user_id in visible]


USER_SUGGESTIONS = 10
# Strangers (no chat shared, never looked up) are suggested from this many typed characters on:
# enough to pick a person, too many to list every account by trying each letter.
STRANGER_PREFIX_LENGTH = 3


def users_by_prefix(*, viewer: User, prefix: str) -> list[Suggestion]:
    """Active users whose username starts with ``prefix`` (any case), the viewer left out:
    people ``viewer`` knows first (they share a chat, or were looked up), then others once the
    prefix has ``STRANGER_PREFIX_LENGTH`` characters. A stranger becomes known when looked up by
    exact name (``services.user_find``)."""
    prefix = prefix.strip()
    if not prefix or not is_storable(prefix):
        return []
    matching = User.objects.filter(username__istartswith=prefix, is_active=True).exclude(
        pk=viewer.pk
    )
    known = matching.filter(_known_to(viewer)).distinct()
    found = [(user, True) for user in known.order_by("username")[:USER_SUGGESTIONS]]
    if len(found) < USER_SUGGESTIONS and len(prefix) >= STRANGER_PREFIX_LENGTH:
        others = matching.exclude(pk__in=[user.pk for user, _ in found]).exclude(
            pk__in=known.values("pk")
        )
        room = USER_SUGGESTIONS - len(found)
        found += [(user, False) for user in others.order_by("username")[:room]]
    return [Suggestion(user, is_known) for user, is_known in found]


SEARCH_MAX_WORDS = 8
SEARCH_WORD_LENGTH = 64


def message_search(
    *, user: User, query: str, chat_id: str | None = None, limit: int = 20
) -> list[SearchHit]:
    """Messages of the user's chats (or of ``chat_id``, if a member) with a word starting with
    each word of ``query``, newest first, with what the user sees as their chat's name.
    ``InvalidInput`` for a query without a word."""
    words = [w[:SEARCH_WORD_LENGTH] for w in re.findall(r"\w+", query.casefold())]
    if not words:
        raise errors.InvalidInput("Search for at least one word.", code="invalid_field")
    if chat_id is not None:
        chat_ids = [str(chat_for_member(chat_id=str(chat_id), user=user).pk)]
    else:
        memberships = Membership.objects.filter(user=user, chat__archived=False)
        chat_ids = [str(pk) for pk in memberships.values_list("chat_id", flat=True)]
    with errors.store_unavailable_as_error():
        found = get_store().search(chat_ids, words[:SEARCH_MAX_WORDS], limit=limit)
    titles = _chat_titles({m.chat_id for m in found}, viewer_id=str(user.pk))
    return [SearchHit(titles.get(m.chat_id, ""), m) for m in found]


def _chat_titles(chat_ids: set[str], *, viewer_id: str) -> dict[str, str]:
    """What the viewer sees as each chat's name (``chat_title``), in two queries."""
    members: dict[str, list[Member]] = {}
    rows = Membership.objects.filter(chat_id__in=chat_ids).order_by("joined_at", "pk")
    for chat, user_id, username in rows.values_list("chat_id", "user_id", "user__username"):
        members.setdefault(str(chat), []).append(Member(str(user_id), username))
    names = dict(ChatRoom.objects.filter(pk__in=chat_ids).values_list("pk", "name"))
    return {
        str(pk): chat_title(name=name, members=members.get(str(pk), []), viewer_id=viewer_id)
        for pk, name in names.items()
    }


def chat_title(*, name: str, members: list[Member], viewer_id: str) -> str:
    """What a member sees as the chat's name: its name, else the other members' usernames."""
    if name:
        return name
    others = [member.username for member in members if member.user_id != viewer_id]
    return ", ".join(others) or "Just you"
