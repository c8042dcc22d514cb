"""What a user does, against a real server process (daphne, then uvicorn), with real HTTP and
WebSocket clients."""

import asyncio
import json
import uuid

import pytest
import websockets
from websockets.asyncio.client import connect

from tests.frames import next_frame, send_message, silent
from tests.live.users import LiveUser

pytestmark = pytest.mark.live


def name():
    return f"u{uuid.uuid4().hex[:10]}"


async def open_socket(server, user):
    return await connect(server.ws_url, origin=server.url, additional_headers=user.socket_headers())


async def request(ws, frame):
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    return await next_frame(ws)


def direct_chat(alice, bob):
    response = alice.api(
        "POST", "/api/chats", json={"chatType": "direct", "participants": [alice.find(bob)]}
    )
    assert response.status_code == 201, response.text
    return response.json()["chatId"]


async def test_two_users_chat_live_and_a_retry_is_not_stored_twice(server):
    alice = LiveUser(server.url, name()).sign_up().log_in()
    bob = LiveUser(server.url, name()).sign_up().log_in()
    chat_id = direct_chat(alice, bob)

    a = await open_socket(server, alice)
    b = await open_socket(server, bob)
    for ws in (a, b):
        joined = await request(ws, {"action": "joinChat", "chatId": chat_id})
        assert joined == {"type": "joined", "chatId": chat_id, "lastSeq": 0}

    send = send_message(chat_id, "Hi Bob", "m-1")
    ack = await request(a, send)
    assert ack["type"] == "ack" and ack["clientMessageId"] == "m-1"
    assert ack["seq"] == 1 and ack["messageId"]
    for ws in (a, b):
        event = await next_frame(ws)
        assert event["type"] == "message" and event["chatId"] == chat_id
        message = event["message"]
        assert message["messageId"] == ack["messageId"] and message["seq"] == 1
        assert message["message"] == "Hi Bob" and message["userId"] == alice.user_id

    history = bob.api("GET", f"/api/chats/{chat_id}/messages").json()["messages"]
    assert [(m["messageId"], m["message"]) for m in history] == [(ack["messageId"], "Hi Bob")]

    retry = await request(a, send)
    assert retry["type"] == "ack"
    assert (retry["messageId"], retry["seq"]) == (ack["messageId"], ack["seq"])
    await silent(a, 0.5)
    await silent(b, 0.5)
    assert len(bob.history(chat_id)) == 1
    await a.close()
    await b.close()


async def test_bad_frames_get_errors_and_change_nothing(server):
    alice = LiveUser(server.url, name()).sign_up().log_in()
    bob = LiveUser(server.url, name()).sign_up().log_in()
    eve = LiveUser(server.url, name()).sign_up().log_in()
    chat_id = direct_chat(alice, bob)
    a = await open_socket(server, alice)
    await request(a, {"action": "joinChat", "chatId": chat_id})
    ok = send_message(chat_id, "kept", "k")
    assert (await request(a, ok))["type"] == "ack"
    await next_frame(a)
    before = alice.history(chat_id)

    bad_frames = [
        ("{not json", "bad_json"),
        ('["sendMessage"]', "bad_frame"),
        ({"action": "shout", "chatId": chat_id}, "unknown_action"),
        ({"action": "sendMessage", "chatId": chat_id, "clientMessageId": "x"}, "missing_field"),
        (
            {"action": "sendMessage", "chatId": chat_id, "message": 7, "clientMessageId": "x"},
            "invalid_field",
        ),
        ({**ok, "message": "x" * 4001, "clientMessageId": "long"}, "too_long"),
    ]
    for frame, code in bad_frames:
        reply = await request(a, frame)
        assert (reply["type"], reply["code"]) == ("error", code), (frame, reply)
        assert await request(a, {"action": "ping"}) == {"type": "pong"}

    e = await open_socket(server, eve)
    for frame in (
        {"action": "joinChat", "chatId": chat_id},
        {**ok, "clientMessageId": "intruder"},
    ):
        reply = await request(e, frame)
        assert (reply["type"], reply["code"]) == ("error", "not_member")
    assert await request(e, {"action": "ping"}) == {"type": "pong"}
    assert alice.history(chat_id) == before
    await a.close()
    await e.close()


async def test_frames_are_limited_before_they_fill_memory(server):
    """Frames longer than the protocol allows get ``too_long``; the production server (uvicorn,
    with the Procfile's flags) closes the socket on a frame over 64 KiB before buffering it."""
    alice = LiveUser(server.url, name()).sign_up().log_in()
    a = await open_socket(server, alice)
    reply = await request(a, json.dumps({"action": "ping", "pad": "x" * 20_000}))
    assert (reply["type"], reply["code"]) == ("error", "too_long")
    assert await request(a, {"action": "ping"}) == {"type": "pong"}
    if server.name == "uvicorn":
        await a.send("x" * (1 << 20))
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await next_frame(a)
        assert closed.value.rcvd.code == 1009  # message too big
    await a.close()


async def test_handshakes_without_session_or_from_foreign_origin_are_refused(server):
    alice = LiveUser(server.url, name()).sign_up().log_in()
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        await connect(server.ws_url, origin=server.url)
    assert refused.value.response.status_code == 403
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        await connect(
            server.ws_url, origin="http://evil.example", additional_headers=alice.socket_headers()
        )
    assert refused.value.response.status_code == 403
    # The site on another port or scheme is another origin (as CSRF judges a form's).
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    for origin in (f"http://{host}:{int(port) + 1}", f"https://{host}:{port}"):
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            await connect(server.ws_url, origin=origin, additional_headers=alice.socket_headers())
        assert refused.value.response.status_code == 403, origin
    # The same user with the right origin is let in: the refusals above were for cause.
    ws = await open_socket(server, alice)
    assert await request(ws, {"action": "ping"}) == {"type": "pong"}
    await ws.close()


async def test_four_concurrent_senders_get_seq_1_to_200(server):
    users = [LiveUser(server.url, name()).sign_up().log_in() for _ in range(4)]
    response = users[0].api(
        "POST",
        "/api/chats",
        json={
            "chatType": "group",
            "chatName": "busy",
            "participants": [users[0].find(u) for u in users[1:]],
        },
    )
    assert response.status_code == 201, response.text
    chat_id = response.json()["chatId"]
    sockets = [await open_socket(server, user) for user in users]
    for ws in sockets:
        await request(ws, {"action": "joinChat", "chatId": chat_id})

    async def sender(index, ws):
        acks, received = [], []
        for n in range(50):
            await ws.send(
                json.dumps(
                    {
                        "action": "sendMessage",
                        "chatId": chat_id,
                        "message": f"{index}:{n}",
                        "clientMessageId": f"{index}-{n}",
                    }
                )
            )
        while len(acks) < 50 or len(received) < 200:
            frame = await next_frame(ws, timeout=30)
            (acks if frame["type"] == "ack" else received).append(frame)
        return acks, received

    results = await asyncio.wait_for(
        asyncio.gather(*(sender(i, ws) for i, ws in enumerate(sockets))), timeout=120
    )
    acked = sorted(ack["seq"] for acks, _ in results for ack in acks)
    assert acked == list(range(1, 201))
    for _, received in results:
        # Each socket sees every message once; live frames of concurrent senders may cross,
        # which clients resolve by seq.
        assert sorted(frame["message"]["seq"] for frame in received) == list(range(1, 201))
    stored = users[0].history(chat_id)
    assert [m["seq"] for m in stored] == list(range(1, 201))
    assert len({m["messageId"] for m in stored}) == 200
    assert sorted(m["message"] for m in stored) == sorted(
        f"{i}:{n}" for i in range(4) for n in range(50)
    )
    for ws in sockets:
        await ws.close()
