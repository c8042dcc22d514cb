"""Baseline: a raw ``websockets`` broadcast server, no framework, no auth, no store.

Speaks the subset of the chat protocol the load generator uses (joinChat, sendMessage).
Usage: python -m bench.baselines.raw_ws PORT
"""

import asyncio
import json
import sys
from collections import defaultdict

from websockets.asyncio.server import broadcast, serve

rooms: dict[str, set] = defaultdict(set)


async def handler(ws):
    joined = set()
    try:
        async for text in ws:
            frame = json.loads(text)
            chat_id = frame.get("chatId")
            if frame.get("action") == "joinChat":
                rooms[chat_id].add(ws)
                joined.add(chat_id)
                await ws.send(json.dumps({"type": "joined", "chatId": chat_id, "lastSeq": 0}))
            elif frame.get("action") == "sendMessage":
                out = {
                    "type": "message",
                    "chatId": chat_id,
                    "message": {"message": frame["message"]},
                }
                broadcast(rooms[chat_id], json.dumps(out))
    finally:
        for chat_id in joined:
            rooms[chat_id].discard(ws)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, max_queue=None):
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
