"""A user's socket limits shared by processes through Redis (two ``UserBudgets``, as two
processes have, against a private redis-server), and what happens without Redis."""

import logging
import uuid

import pytest
import redis.asyncio as redis

from chat.realtime.ratelimit import WINDOW, SharedLimits, UserBudgets
from tests.servers import free_port


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
async def processes(redis_server, settings):
    """Two processes' budgets sharing one Redis, on one clock, under a fresh key prefix."""
    settings.CHAT_RATE_BURST = 5
    settings.CHAT_RATE_PER_SECOND = 0.0
    settings.CHAT_SOCKETS_PER_USER = 3
    settings.CHAT_CONNECTION_TTL = 60
    clock = Clock()
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    clients = [redis.Redis.from_url(redis_server.url, decode_responses=True) for _ in range(2)]
    budgets = [
        UserBudgets(SharedLimits(lambda c=client: c, prefix=prefix, clock=clock))
        for client in clients
    ]
    yield budgets, clock
    for client in clients:
        await client.aclose()


class Socket:
    def __init__(self, budgets: UserBudgets, user_id: str):
        self.refused = False
        self.limit = budgets.open(user_id, uuid.uuid4().hex, self.refuse)

    def refuse(self):
        self.refused = True
        self.limit.close()  # as the socket's disconnect does once it is closed


async def flushed(*budgets):
    for b in budgets:
        await b.shared.flush()


async def test_the_socket_cap_counts_every_processs_sockets(processes):
    (a, b), _ = processes
    first = [Socket(a, "7"), Socket(a, "7")]
    await flushed(a)
    second = [Socket(b, "7"), Socket(b, "7")]
    await flushed(b)
    # Each process alone is under the cap of 3; together the fourth socket is refused.
    assert [s.refused for s in first + second] == [False, False, False, True]
    # Another user's sockets are their own; a closed socket makes room on any process.
    assert not Socket(b, "8").refused
    first[0].limit.close()
    await flushed(a)
    replacement = Socket(b, "7")
    await flushed(b)
    assert not replacement.refused


async def test_sockets_of_a_killed_process_stop_counting_after_their_ttl(processes, settings):
    (a, b), clock = processes
    kept, lost = Socket(a, "7"), [Socket(a, "7"), Socket(a, "7")]
    await flushed(a)
    # Only ``kept`` has a heartbeat; the process holding ``lost`` was killed (never closed).
    clock.now += settings.CHAT_CONNECTION_TTL / 2
    kept.limit.still_open()
    await flushed(a)
    over = Socket(b, "7")
    await flushed(b)
    assert over.refused
    clock.now += settings.CHAT_CONNECTION_TTL / 2 + 1
    newcomers = [Socket(b, "7"), Socket(b, "7"), Socket(b, "7")]
    await flushed(b)
    assert [s.refused for s in newcomers] == [False, False, True]
    assert not any(s.refused for s in [kept, *lost])


async def test_the_frame_budget_is_shared_across_processes_per_window(processes):
    (a, b), clock = processes
    clock.now = (clock.now // WINDOW) * WINDOW  # the start of a window
    on_a, on_b, other = Socket(a, "7"), Socket(b, "7"), Socket(b, "8")
    # The shared budget is 5 a window (burst 5, no refill); each process's bucket allows 5.
    assert all(on_a.limit.take() for _ in range(3))
    await flushed(a)
    assert all(on_b.limit.take() for _ in range(3))
    await flushed(b)
    # Process b learnt that 6 were spent: the user's frames are refused there...
    assert not on_b.limit.take()
    assert other.limit.take()  # (not another user's)
    # ...and process a learns it with its next report.
    assert on_a.limit.take()
    await flushed(a)
    assert not on_a.limit.take()
    # A new window, a new shared budget (the buckets keep what they have left).
    clock.now += WINDOW
    assert on_a.limit.take() and on_b.limit.take()


async def test_without_redis_the_processs_own_limits_still_hold(settings, caplog):
    settings.CHAT_RATE_BURST = 2
    settings.CHAT_RATE_PER_SECOND = 0.0
    settings.CHAT_SOCKETS_PER_USER = 2
    client = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    budgets = UserBudgets(SharedLimits(lambda: client, prefix="test:"))
    sockets = [Socket(budgets, "7"), Socket(budgets, "7")]
    assert budgets.open("7", "third", lambda: None) is None
    limit = sockets[0].limit
    assert [limit.take(), limit.take(), limit.take()] == [True, True, False]
    with caplog.at_level(logging.WARNING, logger="chat.realtime.ratelimit"):
        await budgets.shared.flush()
    assert "reporting to Redis failed" in caplog.text
    assert not any(s.refused for s in sockets)
    await client.aclose()
