"""The Redis fan-out on the local Redis server (127.0.0.1:6379)."""

import asyncio
import uuid

import redis

from chat.fanout import RedisFanout

REDIS = "redis://127.0.0.1:6379/0"


class Collector:
    def __init__(self):
        self.frames = []

    def deliver(self, text):
        self.frames.append(text)


async def test_publishes_beyond_the_connection_cap_wait_for_a_connection(settings):
    name = f"fanout-test-{uuid.uuid4().hex[:8]}"
    settings.REDIS_URL = f"{REDIS}?client_name={name}"
    settings.CHAT_REDIS_POOL = 2
    settings.CHAT_STAGE = name
    fanout = RedisFanout()
    chat_id, receiver = str(uuid.uuid4()), Collector()
    await fanout.join(chat_id, receiver)
    try:
        await asyncio.gather(*(fanout.publish(chat_id, f"frame {n}") for n in range(300)))
        async with asyncio.timeout(10):
            while len(receiver.frames) < 300:
                await asyncio.sleep(0.01)
        assert sorted(receiver.frames) == sorted(f"frame {n}" for n in range(300))
        clients = redis.Redis.from_url(REDIS).client_list()
        # Two publishing connections and the subscription; no more, however many publish at once.
        assert len([c for c in clients if c["name"] == name]) <= 3
    finally:
        await fanout.leave(chat_id, receiver)
        fanout._reader.cancel()
        await fanout._redis.aclose()
