"""The Redis fan-out, against a private redis-server: connection counts, bursts of joins,
churn, a Redis restart, and the ways frames are handed to it (in order from the event loop, from
a request's thread, from a process with no event loop)."""

import asyncio
import json
import random
import signal
import threading
import uuid

import pytest
import redis

from chat.ops import metrics
from chat.realtime.fanout import RedisFanout


class Collector:
    def __init__(self):
        self.frames = []

    def deliver(self, text):
        self.frames.append(text)


@pytest.fixture
async def fanout(redis_server, settings):
    name = f"fanout-test-{uuid.uuid4().hex[:8]}"
    settings.REDIS_URL = f"{redis_server.url}?client_name={name}"
    settings.CHAT_REDIS_POOL = 2
    fanout = RedisFanout()
    fanout.client_name = name
    yield fanout
    await fanout.close()


def admin(redis_server) -> redis.Redis:
    return redis.Redis.from_url(redis_server.url, decode_responses=True)


def connections(redis_server, name) -> list[dict]:
    return [c for c in admin(redis_server).client_list() if c["name"] == name]


def subscribed_chats(redis_server, fanout) -> set[str]:
    """Chats with a subscriber on Redis (this fan-out is the only subscriber)."""
    channels = admin(redis_server).pubsub_channels(fanout.prefix + "*")
    return {channel.removeprefix(fanout.prefix) for channel in channels}


def command_calls(redis_server, command: str) -> int:
    return admin(redis_server).info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


async def until(condition, timeout=10.0):
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_publishes_beyond_the_connection_cap_wait_for_a_connection(fanout, redis_server):
    chat_id, receiver = str(uuid.uuid4()), Collector()
    await fanout.join(chat_id, receiver)
    await asyncio.gather(*(fanout.publish(chat_id, f"frame {n}") for n in range(300)))
    await until(lambda: len(receiver.frames) == 300)
    assert sorted(receiver.frames) == sorted(f"frame {n}" for n in range(300))
    # Two publishing connections and the subscription; no more, however many publish at once.
    assert len(connections(redis_server, fanout.client_name)) <= 3


async def test_a_burst_of_joins_to_different_chats_is_a_few_commands_on_one_connection(
    fanout, redis_server
):
    chats = {str(uuid.uuid4()): Collector() for _ in range(500)}
    subscribes_before = command_calls(redis_server, "subscribe")

    await asyncio.gather(*(fanout.join(chat_id, r) for chat_id, r in chats.items()))

    assert subscribed_chats(redis_server, fanout) == set(chats)
    assert command_calls(redis_server, "subscribe") - subscribes_before <= 5
    (subscription,) = connections(redis_server, fanout.client_name)
    assert int(subscription["sub"]) == 500
    # Every join returned with its chat subscribed: a frame published now reaches it.
    await asyncio.gather(*(fanout.publish(chat_id, f"to {chat_id}") for chat_id in chats))
    await until(lambda: all(r.frames for r in chats.values()))
    await asyncio.sleep(0.1)
    assert all(r.frames == [f"to {chat_id}"] for chat_id, r in chats.items())
    assert len(connections(redis_server, fanout.client_name)) <= 2 + 1


async def test_join_and_leave_churn_ends_subscribed_to_exactly_the_chats_with_sockets(
    fanout, redis_server
):
    chat_ids = [str(uuid.uuid4()) for _ in range(50)]
    receivers = [Collector() for _ in range(40)]
    joined: set[tuple[str, Collector]] = set()
    rng = random.Random(7)

    async def churn(receiver):
        for _ in range(25):  # 40 x 25 = 1,000 joins and leaves, all at once
            chat_id = rng.choice(chat_ids)
            if (chat_id, receiver) in joined:
                joined.discard((chat_id, receiver))
                await fanout.leave(chat_id, receiver)
            else:
                joined.add((chat_id, receiver))
                await fanout.join(chat_id, receiver)
            await asyncio.sleep(rng.choice((0, 0, 0.001)))

    await asyncio.gather(*(churn(r) for r in receivers))
    with_sockets = {chat_id for chat_id, _ in joined}
    await until(lambda: subscribed_chats(redis_server, fanout) == with_sockets)
    assert fanout._subscriber.channels == {fanout.prefix + c for c in with_sockets}

    for chat_id in chat_ids:
        await fanout.publish(chat_id, f"to {chat_id}")
    expected = {r: sorted(f"to {c}" for c, j in joined if j is r) for r in receivers}
    await until(lambda: all(len(r.frames) == len(expected[r]) for r in receivers))
    await asyncio.sleep(0.1)
    assert {r: sorted(r.frames) for r in receivers} == expected


async def test_quick_join_leave_join_and_a_leave_racing_a_join_stay_subscribed(
    fanout, redis_server
):
    chat_id, first, second = str(uuid.uuid4()), Collector(), Collector()
    await fanout.join(chat_id, first)
    await fanout.leave(chat_id, first)
    await fanout.join(chat_id, first)
    # The last socket leaves while another joins.
    await asyncio.gather(fanout.leave(chat_id, first), fanout.join(chat_id, second))
    await asyncio.sleep(0.1)
    assert subscribed_chats(redis_server, fanout) == {chat_id}
    await fanout.publish(chat_id, "still here")
    await until(lambda: second.frames == ["still here"])
    assert first.frames == []

    await fanout.leave(chat_id, second)
    await until(lambda: subscribed_chats(redis_server, fanout) == set())


async def test_after_a_redis_restart_every_chat_with_sockets_is_subscribed_again(
    fanout, redis_server
):
    chats = {str(uuid.uuid4()): Collector() for _ in range(100)}
    await asyncio.gather(*(fanout.join(chat_id, r) for chat_id, r in chats.items()))

    redis_server.stop(signal.SIGKILL)
    # Joins during a short outage wait for the subscription to come back.
    late = {str(uuid.uuid4()): Collector() for _ in range(20)}
    storm = asyncio.gather(
        *(fanout.join(chat_id, r) for chat_id, r in late.items()), return_exceptions=True
    )
    await asyncio.sleep(0.3)
    redis_server.start()
    assert await storm == [None] * 20
    chats.update(late)

    await until(lambda: subscribed_chats(redis_server, fanout) == set(chats))
    await asyncio.gather(*(fanout.publish(chat_id, f"to {chat_id}") for chat_id in chats))
    await until(lambda: all(r.frames == [f"to {c}"] for c, r in chats.items()))


async def test_a_chats_frames_leave_in_order_when_many_are_sent_at_once(fanout):
    chat_id, receiver = str(uuid.uuid4()), Collector()
    await fanout.join(chat_id, receiver)
    texts = [json.dumps({"type": "typing", "n": n}) for n in range(500)]
    for text in texts:
        fanout.send(chat_id, text)
    await until(lambda: len(receiver.frames) == len(texts))
    assert receiver.frames == texts


async def test_a_failed_publish_is_counted_and_the_next_ones_still_leave(fanout, monkeypatch):
    chat_id, receiver = str(uuid.uuid4()), Collector()
    await fanout.join(chat_id, receiver)
    real_publish = fanout.publish
    calls = []

    async def publish(chat_id, text):
        calls.append(text)
        if len(calls) == 1:
            raise redis.ConnectionError("down for a moment")
        await real_publish(chat_id, text)

    monkeypatch.setattr(fanout, "publish", publish)
    failures = metrics.BROADCAST_FAILURES._value.get()
    fanout.send(chat_id, "lost")
    await until(lambda: calls)
    fanout.send(chat_id, "kept")
    await until(lambda: receiver.frames == ["kept"])
    assert metrics.BROADCAST_FAILURES._value.get() == failures + 1


async def test_a_thread_reaches_the_sockets_through_their_event_loop_or_redis(fanout, settings):
    chat_id, receiver = str(uuid.uuid4()), Collector()
    await fanout.join(chat_id, receiver)
    # A request's thread in the server process: through the sockets' event loop.
    thread = threading.Thread(target=fanout.send_threadsafe, args=(chat_id, "from a view"))
    thread.start()
    thread.join()
    await until(lambda: receiver.frames == ["from a view"])
    # A process with no event loop (a shell): straight to Redis, where the sockets' process
    # hears it.
    shell = RedisFanout()
    await asyncio.to_thread(shell.send_threadsafe, chat_id, "from a shell")
    await until(lambda: receiver.frames == ["from a view", "from a shell"])
