"""Socket frames for tests: building them, and reading them from a `websockets` connection."""

import asyncio
import json


def send_message(chat_id: str, message, client_message_id: str) -> dict:
    return {
        "action": "sendMessage",
        "chatId": chat_id,
        "message": message,
        "clientMessageId": client_message_id,
    }


async def next_frame(ws, timeout: float = 10) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def silent(ws, seconds: float = 1.0) -> bool:
    """True when nothing arrives for ``seconds``; a frame that does fails the test."""
    try:
        frame = await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected frame: {frame}")
