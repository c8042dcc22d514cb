"""Wire shapes: the camelCase JSON objects of the REST API and the socket protocol."""

from datetime import UTC, datetime

from chat.media.urls import attachment_payload
from chat.stores.base import Message


def iso(moment: datetime) -> str:
    """An aware datetime as ISO 8601 UTC with milliseconds (such strings sort by time)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_from_ms(timestamp: int) -> str:
    """Epoch milliseconds as ``iso`` renders them."""
    return iso(datetime.fromtimestamp(timestamp / 1000, tz=UTC))


# The length of a quoted message's text shown above a reply.
QUOTE_LENGTH = 200


def quote_payload(message: Message | None, seq: int) -> dict:
    """What a reply shows of the message it answers (at ``seq``): who wrote it and the start of
    its text, or only ``deleted`` once it is gone."""
    if message is None or message.deleted:
        return {"seq": seq, "messageId": message.message_id if message else None, "deleted": True}
    return {
        "seq": seq,
        "messageId": message.message_id,
        "userId": message.user_id,
        "username": message.username,
        "message": message.body[:QUOTE_LENGTH],
        "attachments": len(message.attachments),
        "deleted": False,
    }


def message_payload(
    message: Message,
    *,
    delivered: bool = False,
    read: bool = False,
    quoted: Message | None = None,
    reactions: list | None = None,
) -> dict:
    """The full message object (SPEC section 3). ``quoted``: the message it answers, if it
    is a reply (``replyTo``); ``reactions``: its emoji reactions."""
    return {
        "chatId": message.chat_id,
        "seq": message.seq,
        "messageId": message.message_id,
        "clientMessageId": message.client_message_id,
        "userId": message.user_id,
        "username": message.username,
        "message": message.body,
        "timestamp": message.timestamp,
        "createdAt": iso_from_ms(message.timestamp),
        "attachments": [attachment_payload(message.chat_id, a) for a in message.attachments],
        "kind": message.kind,
        "deleted": message.deleted,
        "edited": message.edited_at is not None,
        "editedAt": message.edited_at,
        "delivered": delivered,
        "read": read,
        "replyTo": quote_payload(quoted, message.reply_to) if message.reply_to else None,
        "reactions": reactions or [],
    }


def ack_payload(message: Message, *, duplicate: bool) -> dict:
    """The sender's acknowledgement that ``message`` is stored."""
    return {
        "type": "ack",
        "chatId": message.chat_id,
        "clientMessageId": message.client_message_id,
        "messageId": message.message_id,
        "seq": message.seq,
        "timestamp": message.timestamp,
        "duplicate": duplicate,
    }


def chat_payload(chat, *, participants: list[dict], last_message=None, unread: int = 0) -> dict:
    """A chat room as listed to one of its members."""
    last_activity = iso(chat.last_activity)
    if last_message is not None:
        last_activity = max(last_activity, iso_from_ms(last_message.timestamp))
    return {
        "chatId": str(chat.id),
        "chatName": chat.name,
        "chatType": chat.chat_type,
        "participants": [p["userId"] for p in participants],
        "members": participants,
        "createdAt": iso(chat.created_at),
        "lastActivity": last_activity,
        "lastMessage": message_payload(last_message) if last_message else None,
        "unreadCount": unread,
    }


def token_payload(token) -> dict:
    """A personal API token as its owner lists it (never its secret)."""
    return {
        "id": str(token.pk),
        "name": token.name,
        "createdAt": iso(token.created_at),
        "lastUsedAt": iso(token.last_used_at) if token.last_used_at else None,
    }


def chat_title(*, name: str, members: list[dict], viewer_id: str) -> str:
    """What a member sees as the chat's name: its name, else the other members' usernames."""
    if name:
        return name
    others = [m["username"] for m in members if m["userId"] != viewer_id]
    return ", ".join(others) or "Just you"
