"""Two daphne processes sharing Redis, PostgreSQL and DynamoDB behave as one chat service."""

import asyncio
import json
import time
import uuid

import pytest
from websockets.asyncio.client import connect

from tests.live.cluster import Cluster
from tests.live.users import LiveUser

pytestmark = [pytest.mark.live, pytest.mark.cluster]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with Cluster(tmp_path_factory.mktemp("cluster")).running() as running:
        yield running


def user_on(server):
    return LiveUser(server.url, f"u{uuid.uuid4().hex[:10]}").sign_up().log_in()


async def open_socket(server, user):
    return await connect(server.ws_url, origin=server.url, additional_headers=user.socket_headers())


async def test_users_on_two_processes_chat_with_every_message_once_in_seq_order(cluster):
    p1, p2 = cluster.processes
    alice, bob = user_on(p1), user_on(p2)
    chat_id = alice.api(
        "POST", "/api/chats", json={"chatType": "direct", "participants": [alice.find(bob)]}
    ).json()["chatId"]
    a, b = await open_socket(p1, alice), await open_socket(p2, bob)
    for ws in (a, b):
        await ws.send(json.dumps({"action": "joinChat", "chatId": chat_id}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "joined"
    deadline = time.monotonic() + 10  # registry writes are batched for a moment

    def registered_in_chat():
        rows = cluster.registered_sockets(alice.user_id, bob.user_id)
        return [row["chatId"]["S"] for row in rows] == [chat_id] * 2

    while not registered_in_chat():
        assert time.monotonic() < deadline, "both sockets registered, with their chat"
        await asyncio.sleep(0.1)

    received = {a: [], b: []}
    acks = []

    async def read_until(ws, seq):
        while not received[ws] or received[ws][-1]["seq"] < seq:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if frame["type"] == "message":
                received[ws].append(frame["message"])
            elif frame["type"] == "ack":
                acks.append(frame)
            else:
                raise AssertionError(frame)

    # 200 each, taking turns: A on process 1, then B on process 2, and so on.
    for n in range(400):
        sender = a if n % 2 == 0 else b
        await sender.send(
            json.dumps(
                {
                    "action": "sendMessage",
                    "chatId": chat_id,
                    "message": f"message {n}",
                    "clientMessageId": f"c-{n}",
                }
            )
        )
        await asyncio.gather(read_until(a, n + 1), read_until(b, n + 1))

    for ws in (a, b):
        assert [m["seq"] for m in received[ws]] == list(range(1, 401))
        assert [m["message"] for m in received[ws]] == [f"message {n}" for n in range(400)]
        assert len({m["messageId"] for m in received[ws]}) == 400
    assert sorted(ack["seq"] for ack in acks) == list(range(1, 401))
    assert [m["seq"] for m in cluster.stored(chat_id)] == list(range(1, 401))

    await a.close()
    await b.close()
    deadline = time.monotonic() + 10
    while cluster.registered_sockets(alice.user_id, bob.user_id) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert cluster.registered_sockets(alice.user_id, bob.user_id) == []


async def test_a_thousand_sockets_on_one_process_share_the_redis_layer(cluster):
    p1, p2 = cluster.processes
    alice, bob = user_on(p1), user_on(p2)
    chat_id = alice.api(
        "POST", "/api/chats", json={"chatType": "direct", "participants": [alice.find(bob)]}
    ).json()["chatId"]
    gate = asyncio.Semaphore(50)

    async def member_socket(user):
        async with gate:
            ws = await open_socket(p1, user)
            await ws.send(json.dumps({"action": "joinChat", "chatId": chat_id}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "joined"
            return ws

    sockets = await asyncio.wait_for(
        asyncio.gather(*(member_socket(alice if n % 2 else bob) for n in range(1000))), 240
    )
    sender = await open_socket(p2, alice)
    await sender.send(
        json.dumps(
            {
                "action": "sendMessage",
                "chatId": chat_id,
                "message": "to all",
                "clientMessageId": "x",
            }
        )
    )
    assert json.loads(await asyncio.wait_for(sender.recv(), 10))["type"] == "ack"

    async def delivered(ws):
        frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
        return frame["type"] == "message" and frame["message"]["message"] == "to all"

    results = await asyncio.gather(*(delivered(ws) for ws in sockets))
    assert sum(results) == 1000
    await sender.close()
    await asyncio.gather(*(ws.close() for ws in sockets))
    assert "Too many connections" not in p1.log()
    assert "Traceback" not in p1.log()
