"""Wire shapes: the camelCase JSON objects of the REST API and the socket protocol."""

from datetime import UTC, datetime

from chat.media.urls import attachment_url
from chat.selectors import ListedChat, MessagePage
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
    reactions=(),
) -> dict:
    """The full message object (SPEC section 3). ``quoted``: the message it answers, if it
    is a reply (``replyTo``); ``reactions``: its emoji reactions (``selectors.Reactions``)."""
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
        "reactions": reactions_payload(reactions),
    }


def reactions_payload(reactions) -> list[dict]:
    """A message's reactions: each emoji in the order it was first put, with who put it."""
    return [
        {"emoji": each.emoji, "count": len(each.user_ids), "userIds": list(each.user_ids)}
        for each in reactions
    ]


def message_reactions_payload(message: Message, reactions) -> dict:
    """A message's reactions, as a reaction's answer and the ``reactions`` frame carry them."""
    return {
        "chatId": message.chat_id,
        "seq": message.seq,
        "messageId": message.message_id,
        "reactions": reactions_payload(reactions),
    }


def shown_message_payload(shown) -> dict:
    """A message as a member sees it (``selectors.ShownMessage``)."""
    return message_payload(
        shown.message, delivered=shown.delivered, read=shown.read, quoted=shown.quoted,
        reactions=shown.reactions,
    )  # fmt: skip


def message_page_payload(page) -> dict:
    """A page of history (``selectors.MessagePage``, with the cursor of the older page) or a
    catch-up (``selectors.CatchUp``)."""
    payload = {"messages": [shown_message_payload(shown) for shown in page.messages]}
    if isinstance(page, MessagePage):
        return {**payload, "nextCursor": page.next_cursor, "hasMore": page.next_cursor is not None}
    return {**payload, "hasMore": page.has_more}


def attachment_payload(chat_id: str, described: dict) -> dict:
    """A message's stored attachment descriptor as clients see it: ``{id, name, contentType,
    size, url}`` and, for images, ``thumbnailUrl``, ``width``, ``height``."""
    payload = {
        "id": described["id"],
        "name": described["name"],
        "contentType": described["contentType"],
        "size": described["size"],
        "url": attachment_url(chat_id, described["id"]),
    }
    if described.get("thumbnailKey"):
        payload.update(
            thumbnailUrl=attachment_url(chat_id, described["id"], thumbnail=True),
            width=described["width"],
            height=described["height"],
        )
    return payload


def upload_ticket_payload(ticket) -> dict:
    """An upload URL for one file (``media.uploads.UploadTicket``)."""
    return {
        "attachmentId": ticket.attachment_id,
        "url": ticket.url,
        "fields": ticket.fields,
        "expiresAt": iso(ticket.expires_at),
        "maxBytes": ticket.max_bytes,
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


def member_payload(member) -> dict:
    return {"userId": member.user_id, "username": member.username}


def chat_payload(listed: ListedChat) -> dict:
    """A chat room as listed to one of its members (``selectors.ListedChat``)."""
    chat, last = listed.chat, listed.last_message
    return {
        "chatId": str(chat.id),
        "chatName": chat.name,
        "chatType": chat.chat_type,
        "participants": [member.user_id for member in listed.members],
        "members": [member_payload(member) for member in listed.members],
        "createdAt": iso(chat.created_at),
        "lastActivity": iso(listed.active_at),
        "lastMessage": message_payload(last) if last else None,
        "unreadCount": listed.unread,
    }


def chat_page_payload(page) -> dict:
    """A page of a user's chats (``selectors.ChatPage``)."""
    return {
        "chats": [chat_payload(listed) for listed in page.chats],
        "nextCursor": page.next_cursor,
    }


def receipt_payload(receipt) -> dict:
    """How far a member has received and read a chat (the chat page draws receipts from it)."""
    return {
        "userId": receipt.user_id, "username": receipt.username,
        "delivered": receipt.delivered, "read": receipt.read,
    }  # fmt: skip


def user_payload(user) -> dict:
    return {"userId": str(user.pk), "username": user.get_username()}


def suggestion_payload(suggestion) -> dict:
    return {**user_payload(suggestion.user), "known": suggestion.known}


def presence_payload(seen) -> dict:
    return {
        "userId": seen.user_id,
        "online": seen.online,
        "lastSeen": iso(seen.last_seen) if seen.last_seen else None,
    }


def search_hit_payload(hit) -> dict:
    return {"chatName": hit.chat_name, "message": message_payload(hit.message)}


def token_payload(token) -> dict:
    """A personal API token as its owner lists it (never its secret)."""
    return {
        "id": str(token.pk),
        "name": token.name,
        "createdAt": iso(token.created_at),
        "lastUsedAt": iso(token.last_used_at) if token.last_used_at else None,
    }
