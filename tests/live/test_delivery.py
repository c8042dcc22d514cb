"""Delivery guarantees through faults: reconnects, Redis restarts, store outages, lost
responses and server restarts. Two daphne processes share a private Redis, PostgreSQL and moto
(behind a forwarder the tests cut)."""

import asyncio
import contextlib
import json
import signal
import time
import uuid

import pytest
from websockets.asyncio.client import connect

from chat_client import ChatClient
from tests.frames import next_frame, send_message, silent
from tests.live.cluster import Cluster
from tests.live.users import PASSWORD, LiveUser

pytestmark = [pytest.mark.live, pytest.mark.cluster]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with Cluster(tmp_path_factory.mktemp("faults"), store_forwarder=True).running() as running:
        yield running


@pytest.fixture(autouse=True)
def healthy(cluster):
    """Each test starts with every part up and the store reachable."""
    cluster.forwarder.set_mode("open")
    for process in cluster.processes:
        if process.process is None:
            process.start()
    yield
    cluster.forwarder.set_mode("open")


def users_and_chat(server, count=2):
    users = [
        LiveUser(server.url, f"u{uuid.uuid4().hex[:10]}").sign_up().log_in() for _ in range(count)
    ]
    body = {"participants": [users[0].find(u) for u in users[1:]]}
    if count == 2:
        body["chatType"] = "direct"
    else:
        body.update(chatType="group", chatName="group")
    response = users[0].api("POST", "/api/chats", json=body)
    assert response.status_code == 201, response.text
    return users, response.json()["chatId"]


async def client_for(server, user, chat_ids):
    client = await ChatClient.login(server.url, user.username, PASSWORD)
    await client.start(chat_ids)
    return client


def essentials(messages):
    return [{k: m[k] for k in ("seq", "messageId", "message", "userId")} for m in messages]


async def raw_socket(server, user, chat_id):
    ws = await connect(server.ws_url, origin=server.url, additional_headers=user.socket_headers())
    await ws.send(json.dumps({"action": "joinChat", "chatId": chat_id}))
    assert (await next_frame(ws))["type"] == "joined"
    return ws


async def clients_on_both_processes(cluster):
    """A direct chat, a reference client for its first member on process 1 and one for the
    second on process 2, both started."""
    p1, p2 = cluster.processes
    (alice, bob), chat_id = users_and_chat(p1)
    return await client_for(p1, alice, [chat_id]), await client_for(p2, bob, [chat_id]), chat_id


async def sockets_on_both_processes(cluster):
    """A direct chat, its first member on process 1 and the second on process 2, joined."""
    p1, p2 = cluster.processes
    (alice, bob), chat_id = users_and_chat(p1)
    return await raw_socket(p1, alice, chat_id), await raw_socket(p2, bob, chat_id), chat_id


async def test_a_reconnecting_client_catches_up_exactly_what_it_missed(cluster):
    a, b, chat_id = await clients_on_both_processes(cluster)
    await a.send(chat_id, "before")
    await b.settled(chat_id, 1)

    await b.stop()
    await asyncio.gather(*(a.send(chat_id, f"missed {n}") for n in range(250)))
    await b.start()
    view = await b.settled(chat_id, 251)

    assert [m["seq"] for m in view] == list(range(1, 252))
    assert sorted(m["message"] for m in view[1:]) == sorted(f"missed {n}" for n in range(250))
    assert essentials(view) == cluster.stored(chat_id)
    await a.close()
    await b.close()


async def test_redis_restart_sends_are_kept_and_live_delivery_resumes(cluster):
    a, b, chat_id = await clients_on_both_processes(cluster)
    await a.send(chat_id, "hello")
    await b.settled(chat_id, 1)
    reconnects = b.reconnects

    cluster.redis.stop(signal.SIGKILL)
    acks = [await asyncio.wait_for(a.send(chat_id, f"outage {n}"), 10) for n in range(10)]
    assert [ack["seq"] for ack in acks] == list(range(2, 12))
    assert len(cluster.stored(chat_id)) == 11

    cluster.redis.start()  # empty: it kept nothing
    restarted = time.monotonic()
    live_before = b.received_live
    probes = 0
    while b.received_live == live_before:
        assert time.monotonic() - restarted < 15, "live delivery did not resume within 15 s"
        await a.send(chat_id, f"probe {probes}")
        probes += 1
        with contextlib.suppress(TimeoutError):
            await b.wait_until(lambda: b.received_live > live_before, timeout=1)
    resumed_after = time.monotonic() - restarted
    assert resumed_after < 15
    print(f"live delivery resumed {resumed_after:.1f} s after Redis restarted")
    assert b.reconnects == reconnects, "B had to reconnect"

    last = 11 + probes
    view = await b.settled(chat_id, last)
    assert [m["message"] for m in view[1:11]] == [f"outage {n}" for n in range(10)]
    assert essentials(view) == cluster.stored(chat_id)
    await a.close()
    await b.close()


async def test_store_outage_gives_a_retryable_error_fast_and_broadcasts_nothing(cluster):
    a, b, chat_id = await sockets_on_both_processes(cluster)
    frame = send_message(chat_id, "in the dark", "cut-1")

    cluster.forwarder.set_mode("cut")
    started = time.monotonic()
    await a.send(json.dumps(frame))
    error = await next_frame(a, timeout=10)
    elapsed = time.monotonic() - started
    assert error["type"] == "error" and error["retryable"] is True
    assert error["code"] == "store_unavailable" and error["clientMessageId"] == "cut-1"
    assert elapsed < 3, f"the sender waited {elapsed:.1f} s"
    print(f"store outage reported after {elapsed:.2f} s")
    assert await silent(b)

    cluster.forwarder.set_mode("open")
    await a.send(json.dumps(frame))
    ack = await next_frame(a)
    assert ack["type"] == "ack" and ack["seq"] == 1 and ack["duplicate"] is False
    delivered = await next_frame(b)
    assert delivered["message"]["messageId"] == ack["messageId"]
    assert await silent(b, 0.5)
    assert [m["message"] for m in cluster.stored(chat_id)] == ["in the dark"]
    await a.close()
    await b.close()


async def test_a_write_whose_response_was_lost_is_kept_once_and_delivered_once(cluster):
    a, b, chat_id = await sockets_on_both_processes(cluster)
    frame = send_message(chat_id, "did it land?", "lost-1")

    cluster.forwarder.set_mode("lose_write_responses")
    await a.send(json.dumps(frame))
    error = await next_frame(a)
    assert (error["type"], error["retryable"]) == ("error", True)
    assert cluster.forwarder.lost_responses >= 1
    (stored,) = cluster.stored(chat_id)  # the write happened
    assert await silent(b, 0.5)

    cluster.forwarder.set_mode("open")
    await a.send(json.dumps(frame))
    ack = await next_frame(a)
    assert ack["type"] == "ack"
    assert (ack["messageId"], ack["seq"]) == (stored["messageId"], stored["seq"])
    assert cluster.stored(chat_id) == [stored]
    # Nobody had been told of it: the retry announces it, once.
    delivered = await next_frame(b)
    assert delivered["message"]["messageId"] == stored["messageId"]
    assert await silent(b, 0.5)
    await a.close()
    await b.close()


async def test_a_restarted_server_loses_nothing_and_clients_end_with_the_store_view(cluster):
    p1 = cluster.processes[0]
    a, b, chat_id = await clients_on_both_processes(cluster)
    for n in range(5):
        await a.send(chat_id, f"before {n}")
        await b.send(chat_id, f"reply {n}")

    p1.stop()  # SIGTERM, as a deployment does
    pending = [a.send_nowait(chat_id, f"while down {n}") for n in range(3)]
    await b.send(chat_id, "are you there?")
    await asyncio.sleep(0.5)
    p1.start()
    acks = await asyncio.wait_for(asyncio.gather(*pending), 30)
    assert len({ack["messageId"] for ack in acks}) == 3
    assert a.reconnects >= 1

    last = 10 + 1 + 3
    store_view = cluster.stored(chat_id)
    assert [m["seq"] for m in store_view] == list(range(1, last + 1))
    assert essentials(await a.settled(chat_id, last)) == store_view
    assert essentials(await b.settled(chat_id, last)) == store_view
    await a.close()
    await b.close()
