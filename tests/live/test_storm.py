"""Reconnect storms and live order across processes: thousands of sockets joining different
chats at once on two processes (daphne and uvicorn) sharing Redis and PostgreSQL, joins and
leaves churning, Redis restarting mid-storm, and senders on both processes in one chat."""

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections import Counter

import pytest
import redis
from websockets.asyncio.client import connect

from tests.frames import send_message
from tests.live.cluster import Cluster
from tests.live.users import LiveUser
from tests.servers import Daphne, Uvicorn

pytestmark = [pytest.mark.live, pytest.mark.cluster]

POOL = 8  # publish connections per process: the bound below is POOL + 1


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with Cluster(
        tmp_path_factory.mktemp("storm"), servers=(Daphne, Uvicorn), store="orm",
        CHAT_REDIS_POOL=str(POOL),
    ).running() as running:  # fmt: skip
        yield running


@pytest.fixture(scope="module")
def people(cluster):
    """Alice (her sockets on process 1) and Bob (his on process 2), and 200 group chats of
    theirs."""
    p1, p2 = cluster.processes
    alice = LiveUser(p1.url, f"a{uuid.uuid4().hex[:10]}").sign_up().log_in()
    bob = LiveUser(p2.url, f"b{uuid.uuid4().hex[:10]}").sign_up().log_in()
    chats, bob_id = [], alice.find(bob)
    for n in range(200):
        response = alice.api(
            "POST", "/api/chats",
            json={"chatType": "group", "chatName": f"room {n}", "participants": [bob_id]},
        )  # fmt: skip
        assert response.status_code == 201, response.text
        chats.append(response.json()["chatId"])
    return alice, bob, chats


class Socket:
    """A raw socket of one user on one process, reading every frame into lists."""

    def __init__(self, ws, process):
        self.ws = ws
        self.process = process
        self.messages: list[dict] = []
        self.last_seq = None  # from the last `joined`
        self.replies: asyncio.Queue = asyncio.Queue()
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        with contextlib.suppress(Exception):
            async for text in self.ws:
                frame = json.loads(text)
                if frame["type"] == "message":
                    self.messages.append(frame["message"])
                elif frame["type"] not in ("typing", "read", "delivered"):
                    await self.replies.put(frame)

    async def request(self, frame: dict) -> dict:
        await self.ws.send(json.dumps(frame))
        return await asyncio.wait_for(self.replies.get(), 30)

    async def join(self, chat_id: str) -> int:
        """Join, retrying a retryable refusal; returns how many retries it took."""
        for retries in range(100):
            reply = await self.request({"action": "joinChat", "chatId": chat_id})
            if reply["type"] == "joined":
                self.last_seq = reply["lastSeq"]
                return retries
            assert reply.get("retryable"), reply
            await asyncio.sleep(0.2)
        raise AssertionError(f"{chat_id} not joined after 100 tries")

    async def close(self):
        await self.ws.close()
        self.reader.cancel()


async def open_sockets(process, user, count) -> list[Socket]:
    gate = asyncio.Semaphore(200)

    async def one():
        async with gate:
            ws = await connect(
                process.ws_url, origin=process.url, additional_headers=user.socket_headers(),
                open_timeout=60, max_queue=None,
            )  # fmt: skip
            return Socket(ws, process)

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def close_all(sockets):
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)


def redis_admin(cluster) -> redis.Redis:
    return redis.Redis.from_url(cluster.redis.url, decode_responses=True)


def connections_per_process(cluster) -> Counter:
    return Counter(
        c["name"] for c in redis_admin(cluster).client_list() if c["name"].startswith("chat-")
    )


def channel(chat_id: str) -> str:
    return f"chat-dev:chat:{chat_id}"


async def until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        await asyncio.sleep(0.05)


async def test_a_storm_of_joins_to_200_chats_on_two_processes_delivers_every_message_once(
    cluster, people
):
    alice, bob, chats = people
    p1, p2 = cluster.processes
    sockets = await open_sockets(p1, alice, 1000) + await open_sockets(p2, bob, 1000)
    chat_of = {s: chats[n % 200] for n, s in enumerate(sockets)}  # 5 per chat and process
    try:
        started = time.monotonic()
        retries = await asyncio.gather(*(s.join(chat_of[s]) for s in sockets))
        print(f"2,000 sockets joined 200 chats in {time.monotonic() - started:.2f} s")
        assert sum(retries) == 0

        # Each process: one subscription connection (200 chats) and at most POOL publishers.
        per_process = connections_per_process(cluster)
        assert len(per_process) == 2 and max(per_process.values()) <= POOL + 1, per_process
        subscribed = redis_admin(cluster).pubsub_numsub(*(channel(c) for c in chats))
        assert all(count == 2 for _, count in subscribed)

        senders = {}
        for s in sockets:
            senders.setdefault(chat_of[s], s)
        replies = await asyncio.gather(
            *(s.request(send_message(c, f"hello {c}", "storm-1")) for c, s in senders.items())
        )
        assert all(reply["type"] == "ack" for reply in replies)
        await until(lambda: all(s.messages for s in sockets), 30, "every member got its message")
        await asyncio.sleep(0.5)  # time for a duplicate to show up
        assert all([m["message"] for m in s.messages] == [f"hello {chat_of[s]}"] for s in sockets)
        assert max(connections_per_process(cluster).values()) <= POOL + 1
    finally:
        await close_all(sockets)
    for process in cluster.processes:
        assert "No connection available" not in process.log()
        assert "Traceback" not in process.log()


async def test_join_and_leave_churn_ends_subscribed_to_exactly_the_chats_with_sockets(
    cluster, people
):
    alice, bob, chats = people
    p1, p2 = cluster.processes
    chats = chats[:50]
    sockets = await open_sockets(p1, alice, 100) + await open_sockets(p2, bob, 100)
    joined: dict[Socket, set[str]] = {s: set() for s in sockets}
    rng = random.Random(11)

    async def churn(socket):
        for _ in range(5):  # 200 sockets x 5 = 1,000 joins and leaves, all at once
            chat_id = rng.choice(chats)
            if chat_id in joined[socket]:
                assert (await socket.request({"action": "leaveChat", "chatId": chat_id}))[
                    "type"
                ] == "left"
                joined[socket].discard(chat_id)
            else:
                assert await socket.join(chat_id) == 0
                joined[socket].add(chat_id)

    try:
        await asyncio.gather(*(churn(s) for s in sockets))

        def processes_with_sockets(chat_id):
            return len({s.process.port for s in sockets if chat_id in joined[s]})

        expected = [(channel(c), processes_with_sockets(c)) for c in chats]
        admin = redis_admin(cluster)
        await until(
            lambda: admin.pubsub_numsub(*(channel(c) for c in chats)) == expected,
            5, "Redis subscriptions equal the chats with sockets on each process",
        )  # fmt: skip

        for s in sockets:
            s.messages.clear()
        sender = await open_sockets(p1, alice, 1)
        for n, chat_id in enumerate(chats):
            assert (await sender[0].request(send_message(chat_id, chat_id, f"churn-{n}")))[
                "type"
            ] == "ack"
        await until(
            lambda: all(len(s.messages) == len(joined[s]) for s in sockets), 30,
            "every joined socket got its chats' messages",
        )  # fmt: skip
        await asyncio.sleep(0.3)
        assert all(sorted(m["message"] for m in s.messages) == sorted(joined[s]) for s in sockets)
        await close_all(sender)
    finally:
        await close_all(sockets)


async def test_a_redis_restart_in_the_middle_of_a_storm_resumes_delivery_for_every_chat(
    cluster, people
):
    alice, bob, chats = people
    p1, p2 = cluster.processes
    chats = chats[100:200]
    sockets = await open_sockets(p1, alice, 300) + await open_sockets(p2, bob, 300)
    chat_of = {s: chats[n % 100] for n, s in enumerate(sockets)}
    try:
        storm = asyncio.gather(*(s.join(chat_of[s]) for s in sockets))
        await asyncio.sleep(0.05)
        cluster.restart_redis(down_seconds=0.5)
        retries = await asyncio.wait_for(storm, 60)
        print(f"joins retried during the Redis restart: {sum(retries)}")

        # Probe each chat until every member has a message live (sends while Redis comes back
        # are stored and acked; their broadcast may be lost, as documented).
        deadline = time.monotonic() + 20
        probes = 0
        while not all(s.messages for s in sockets):
            assert time.monotonic() < deadline, "live delivery did not resume for every chat"
            waiting = {chat_of[s] for s in sockets if not s.messages}
            senders = {chat_of[s]: s for s in sockets if chat_of[s] in waiting}
            probes += 1
            await asyncio.gather(
                *(s.request(send_message(c, "probe", f"p-{probes}")) for c, s in senders.items())
            )
            await asyncio.sleep(0.5)
        print(f"delivery resumed for all 100 chats after {probes} rounds of probes")
        subscribed = redis_admin(cluster).pubsub_numsub(*(channel(c) for c in chats))
        assert all(count == 2 for _, count in subscribed)
    finally:
        await close_all(sockets)


async def test_senders_on_two_processes_in_one_chat_are_received_in_seq_order(cluster, people):
    alice, bob, chats = people
    p1, p2 = cluster.processes
    chat_id = chats[50]
    sockets = await open_sockets(p1, alice, 12) + await open_sockets(p2, bob, 12)
    try:
        await asyncio.gather(*(s.join(chat_id) for s in sockets))
        senders = sockets[:10] + sockets[12:22]  # 10 on each process; all 24 receive

        async def send(socket, index):
            for n in range(100):
                reply = await socket.request(send_message(chat_id, "x", f"order-{index}-{n}"))
                assert reply["type"] == "ack", reply

        base = sockets[-1].last_seq
        await asyncio.gather(*(send(s, i) for i, s in enumerate(senders)))
        await until(
            lambda: all(len(s.messages) >= 2000 for s in sockets), 30,
            "every socket received 2,000 messages",
        )  # fmt: skip
        await asyncio.sleep(0.3)
        out_of_order = sum(
            sum(1 for a, b in zip(s.messages, s.messages[1:], strict=False) if b["seq"] <= a["seq"])
            for s in sockets
        )
        held_too_long = sum(p.log().count("did not arrive within") for p in cluster.processes)
        print(
            f"2,000 messages x 24 receivers: {out_of_order} frames out of order; "
            f"holds that ended before their gap filled: {held_too_long}"
        )
        for s in sockets:  # every message once, no sync needed
            assert sorted(m["seq"] for m in s.messages) == list(range(base + 1, base + 2001))
        # In order, but for a frame whose predecessor came later than the hold (a process
        # stalled for over 100 ms on a busy machine): then the log says so, and it is rare.
        assert out_of_order == 0 or (held_too_long and out_of_order <= 2000 * 24 // 100)
    finally:
        await close_all(sockets)


def spellings(chat_id: str, count: int) -> list[str]:
    """``count`` different ways to write the chat's id that all parse as it."""
    # Case, hyphens anywhere (a UUID's parser drops them) and the URN and brace forms give
    # millions of spellings whatever the id's letters.
    rng = random.Random(chat_id)
    digits = chat_id.replace("-", "")
    out = set()
    for _ in range(count * 20):
        if len(out) == count:
            break
        mixed = [c.upper() if rng.random() < 0.5 else c for c in digits]
        for position in sorted(rng.sample(range(1, 32), rng.randint(0, 16)), reverse=True):
            mixed.insert(position, "-")
        form = rng.choice(["{}", "{{{}}}", "urn:uuid:{}"]).format("".join(mixed))
        out.add(form)
    assert len(out) == count
    return sorted(out)


def rss_bytes(process) -> int:
    with open(f"/proc/{process.process.pid}/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return kib * 1024


async def test_a_flood_of_spellings_of_one_chat_id_leaves_redis_and_the_server_bounded(
    cluster, people
):
    _, bob, chats = people
    p2 = cluster.processes[1]
    chat_id = chats[100]
    admin = redis_admin(cluster)
    sockets = await open_sockets(p2, bob, 20)
    try:

        async def flood(socket, names):
            for name in names:
                for action in ({"action": "joinChat", "chatId": name},
                               {"action": "sync", "chatId": name, "afterSeq": 0},
                               {"action": "typing", "chatId": name}):  # fmt: skip
                    await socket.ws.send(json.dumps(action))
                reply = await socket.request({"action": "ping"})
                while reply["type"] != "pong":  # joined, history; typing has no reply
                    assert reply["type"] in ("joined", "history"), reply
                    assert reply["chatId"] == chat_id, reply  # answered under the real id
                    reply = await asyncio.wait_for(socket.replies.get(), 30)

        names = spellings(chat_id, 20 * 260)
        # A first round settles the server's allocations; the second must not add to them.
        await asyncio.gather(
            *(flood(s, names[n * 10 : n * 10 + 10]) for n, s in enumerate(sockets))
        )
        channels = set(admin.pubsub_channels("chat-dev:chat:*"))
        keys, memory, rss = admin.dbsize(), admin.info("memory")["used_memory"], rss_bytes(p2)
        await asyncio.gather(*(
            flood(s, names[200 + n * 250:200 + n * 250 + 250]) for n, s in enumerate(sockets)
        ))  # fmt: skip
        grown = {
            "channels": set(admin.pubsub_channels("chat-dev:chat:*")) - channels,
            "keys": admin.dbsize() - keys,
            "redis bytes": admin.info("memory")["used_memory"] - memory,
            "server bytes": rss_bytes(p2) - rss,
        }
        print(f"5,000 spellings x 3 frames from 20 sockets: grown by {grown}")
        assert channel(chat_id) in channels and not grown["channels"]
        assert grown["keys"] <= 2  # a new window's frame counter, at most
        assert grown["redis bytes"] < 512 * 1024
        assert grown["server bytes"] < 32 * 1024 * 1024
    finally:
        await close_all(sockets)
