"""An audit soak: many clients on two processes, random sends, retries and disconnects, and a
Redis restart; at the end every chat's store, acks and client views agree exactly."""

import asyncio
import random
import time
import uuid

import pytest

from chat_client import ChatClient
from tests.live.cluster import Cluster
from tests.live.users import PASSWORD, LiveUser

pytestmark = [pytest.mark.live, pytest.mark.cluster]

CLIENTS = 20
CHATS = 5
ACTIVE_SECONDS = 40
REDIS_RESTART_AT = 15


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with Cluster(tmp_path_factory.mktemp("soak")).running() as running:
        yield running


def essentials(messages):
    return [{k: m[k] for k in ("seq", "messageId", "message", "userId")} for m in messages]


async def test_audit_soak(cluster):
    rng = random.Random(20261126)
    p1, p2 = cluster.processes
    users = [
        LiveUser(p1.url, f"soak{uuid.uuid4().hex[:8]}").sign_up().log_in() for _ in range(CLIENTS)
    ]
    memberships = {i: set() for i in range(CLIENTS)}
    chat_ids = []
    for c in range(CHATS):
        members = rng.sample(range(CLIENTS), 8)
        response = users[members[0]].api(
            "POST",
            "/api/chats",
            json={
                "chatType": "group",
                "chatName": f"soak {c}",
                "participants": [users[members[0]].find(users[m]) for m in members[1:]],
            },
        )
        assert response.status_code == 201, response.text
        chat_ids.append(response.json()["chatId"])
        for m in members:
            memberships[m].add(response.json()["chatId"])

    clients = []
    for i, user in enumerate(users):
        server = (p1, p2)[i % 2]
        client = await ChatClient.login(server.url, user.username, PASSWORD)
        await client.start(sorted(memberships[i]))
        clients.append(client)

    sends = []  # (chat_id, future)
    acked_keys = []  # (client, chat_id, clientMessageId) of acked sends, for retries
    deadline = time.monotonic() + ACTIVE_SECONDS

    async def behave(index, client):
        chats = sorted(memberships[index])
        if not chats:
            return
        n = 0
        while time.monotonic() < deadline:
            # ~10 sends/s in all: moto, one request at a time, is the bottleneck here.
            await asyncio.sleep(rng.uniform(1.0, 3.0))
            roll = rng.random()
            if roll < 0.08:
                await client.drop_connection()
            elif roll < 0.15 and acked_keys:
                chat_id, key = rng.choice(
                    [(c, k) for who, c, k in acked_keys if who is client] or [(None, None)]
                )
                if key is not None:
                    sends.append(
                        (chat_id, client.send_nowait(chat_id, "retry", client_message_id=key))
                    )
            else:
                chat_id = rng.choice(chats)
                key = uuid.uuid4().hex
                future = client.send_nowait(chat_id, f"{index}:{n}", client_message_id=key)
                future.add_done_callback(
                    lambda f, c=client, chat=chat_id, k=key: (
                        f.exception() or acked_keys.append((c, chat, k))
                    )
                )
                sends.append((chat_id, future))
                n += 1

    async def restart_redis():
        await asyncio.sleep(REDIS_RESTART_AT)
        await asyncio.to_thread(cluster.restart_redis, down_seconds=2)

    await asyncio.gather(restart_redis(), *(behave(i, c) for i, c in enumerate(clients)))
    acks = await asyncio.wait_for(asyncio.gather(*(f for _, f in sends)), 120)
    assert sum(client.reconnects for client in clients) > 0, "no client was disconnected"

    acked = {chat_id: set() for chat_id in chat_ids}
    for (chat_id, _), ack in zip(sends, acks, strict=True):
        acked[chat_id].add(ack["messageId"])
    assert sum(len(ids) for ids in acked.values()) > 200, "the soak sent too little to mean much"
    for chat_id in chat_ids:
        stored = cluster.stored(chat_id)
        assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1)), "seq not dense"
        assert {m["messageId"] for m in stored} == acked[chat_id], "stored != acked"
        for index, client in enumerate(clients):
            if chat_id in memberships[index]:
                view = await client.settled(chat_id, len(stored), timeout=60)
                assert essentials(view) == stored, f"client {index} differs on {chat_id}"
    for client in clients:
        await client.close()
