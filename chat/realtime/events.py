"""Real-time events: the frames broadcast to a chat's sockets.

A frame is serialized once however many sockets receive it. Broadcasting is best effort: a
fan-out failure (Redis down) is logged and counted, never raised, because the message is
already stored and clients catch up with ``sync``.
"""

import json
import logging

from chat.ops.metrics import BROADCAST_FAILURES
from chat.payloads import message_payload
from chat.realtime.fanout import get_fanout
from chat.stores.base import Message

logger = logging.getLogger(__name__)


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


async def _publish(chat_id: str, text: str) -> bool:
    try:
        await get_fanout().publish(chat_id, text)
    except Exception:
        BROADCAST_FAILURES.inc()
        logger.exception("Broadcast to chat %s failed; members will catch up by sync.", chat_id)
        return False
    return True


async def message_broadcast(message: Message, quoted: Message | None = None) -> bool:
    """Send a stored message (and the one it answers, if a reply) to every socket joined to its
    chat; False if the layer failed."""
    return await _publish(message.chat_id, message_frame(message, quoted))


async def typing_broadcast(*, chat_id: str, user_id: str, username: str) -> bool:
    """Tell the chat's sockets that a member is typing."""
    text = frame({"type": "typing", "chatId": chat_id, "userId": user_id, "username": username})
    return await _publish(chat_id, text)


async def delivered_broadcast(*, chat_id: str, user_id: str, seq: int) -> bool:
    """Tell the chat's sockets how far a member's client has received it."""
    text = frame({"type": "delivered", "chatId": chat_id, "userId": user_id, "seq": seq})
    return await _publish(chat_id, text)


async def read_broadcast(*, chat_id: str, user_id: str, seq: int) -> bool:
    """Tell the chat's sockets how far a member has read."""
    text = frame({"type": "read", "chatId": chat_id, "userId": user_id, "seq": seq})
    return await _publish(chat_id, text)
