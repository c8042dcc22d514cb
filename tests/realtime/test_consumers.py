"""The socket protocol, driven through the full ASGI application (origin check + session)."""

import json
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from chat.models import Membership
from chat.realtime.registry import get_registry
from chat.stores import get_store
from chatsite.asgi import application
from tests.frames import send_message
from tests.sockets import open_socket, send

pytestmark = pytest.mark.django_db(transaction=True)

HOST = (b"host", b"localhost")


async def joined(chat_id, *users):
    """One socket per user, each joined to the chat."""
    sockets = []
    for user in users:
        socket, _ = await open_socket(user)
        assert (await send(socket, {"action": "joinChat", "chatId": chat_id}))["type"] == "joined"
        sockets.append(socket)
    return sockets


async def test_handshake_without_login_is_refused():
    _, connected = await open_socket(None)
    assert not connected


async def test_handshake_with_a_stale_or_made_up_session_is_refused(make_user):
    user = await database_sync_to_async(make_user)()
    client = Client()
    await database_sync_to_async(client.force_login)(user)
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())
    origin = (b"origin", b"http://localhost")

    async def connects(*headers):
        socket = WebsocketCommunicator(application, "/ws/", headers=[HOST, *headers])
        connected, _ = await socket.connect()
        if connected:
            await socket.disconnect()
        return connected

    assert await connects(origin, cookie)
    assert not await connects(origin, (b"cookie", b"sessionid=made-up"))
    assert not await connects(origin, (b"cookie", b"other=1; sessionid="))
    # A password change ends the sessions made before it, sockets included.
    user.set_password("a-new-password-0")
    await database_sync_to_async(user.save)()
    assert not await connects(origin, cookie)


async def test_handshake_of_an_expired_forged_or_deactivated_session_is_refused(
    make_user, settings
):
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session

    user = await database_sync_to_async(make_user)()
    client = Client()
    await database_sync_to_async(client.force_login)(user)
    key = client.cookies["sessionid"].value
    origin = (b"origin", b"http://localhost")

    async def connects():
        socket = WebsocketCommunicator(
            application, "/ws/", headers=[HOST, origin, (b"cookie", f"sessionid={key}".encode())]
        )
        connected, _ = await socket.connect()
        if connected:
            await socket.disconnect()
        return connected

    @database_sync_to_async
    def edit_session(**changes):
        session = SessionStore(key)
        session.update(changes)
        session.save()

    assert await connects()
    await edit_session(**{HASH_SESSION_KEY: "0" * 64})  # a hash that is not the user's
    assert not await connects()
    await edit_session(**{HASH_SESSION_KEY: user.get_session_auth_hash()})
    assert await connects()
    await edit_session(**{BACKEND_SESSION_KEY: "somewhere.else.Backend"})
    assert not await connects()
    await edit_session(**{BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0]})
    assert await connects()

    user.is_active = False
    await database_sync_to_async(user.save)()
    assert not await connects()
    user.is_active = True
    await database_sync_to_async(user.save)()
    assert await connects()

    await database_sync_to_async(Session.objects.filter(session_key=key).update)(
        expire_date="2000-01-01T00:00:00Z"
    )
    assert not await connects()


async def test_handshake_from_a_foreign_origin_is_refused(make_user):
    user = await database_sync_to_async(make_user)()
    _, connected = await open_socket(user, origin=b"http://evil.example")
    assert not connected


async def test_send_is_stored_acked_then_broadcast_once(alice_bob_direct):
    alice, bob, chat = alice_bob_direct
    chat_id = str(chat.pk)
    a, _ = await open_socket(alice)
    b, _ = await open_socket(bob)
    assert await send(a, {"action": "joinChat", "chatId": chat_id}) == {
        "type": "joined",
        "chatId": chat_id,
        "lastSeq": 0,
    }
    await send(b, {"action": "joinChat", "chatId": chat_id})

    frame = send_message(chat_id, "hi <b>", "k1")
    ack = await send(a, frame)
    assert ack["type"] == "ack" and ack["seq"] == 1 and ack["clientMessageId"] == "k1"
    for socket in (a, b):
        event = json.loads(await socket.receive_from(timeout=5))
        assert event["type"] == "message"
        assert event["message"]["messageId"] == ack["messageId"]
        assert event["message"]["message"] == "hi <b>"
        assert event["message"]["username"] == "alice"

    retry = await send(a, frame)
    assert retry["messageId"] == ack["messageId"] and retry["seq"] == 1 and retry["duplicate"]
    assert await a.receive_nothing(timeout=0.3)
    assert await b.receive_nothing(timeout=0.3)
    assert await database_sync_to_async(get_store().last_seq)(chat_id) == 1
    await a.disconnect()
    await b.disconnect()


BAD_FRAMES = [
    ("not json", "bad_json"),
    ("[1, 2]", "bad_frame"),
    ('"text"', "bad_frame"),
    ('{"action": "dance"}', "unknown_action"),
    ('{"chatId": "x"}', "unknown_action"),
    ('{"action": "sendMessage", "message": "x", "clientMessageId": "k"}', "missing_field"),
    (
        '{"action": "sendMessage", "chatId": 5, "message": "x", "clientMessageId": "k"}',
        "invalid_field",
    ),
    ('{"action": "sync", "chatId": "x", "afterSeq": -1}', "invalid_field"),
    ('{"action": "sync", "chatId": "x", "afterSeq": true}', "invalid_field"),
]


async def test_each_bad_frame_gets_an_error_and_the_socket_stays_open(alice_bob_direct):
    alice, _, chat = alice_bob_direct
    a, _ = await open_socket(alice)
    await send(a, {"action": "joinChat", "chatId": str(chat.pk)})
    for text, code in BAD_FRAMES:
        reply = await send(a, text)
        assert reply["type"] == "error" and reply["code"] == code, (text, reply)
        assert reply["detail"]
    long_message = {
        "action": "sendMessage",
        "chatId": str(chat.pk),
        "message": "x" * 4001,
        "clientMessageId": "long",
    }
    reply = await send(a, long_message)
    assert (reply["code"], reply["clientMessageId"]) == ("too_long", "long")
    reply = await send(a, {**long_message, "message": "   ", "clientMessageId": "blank"})
    assert reply["code"] == "empty_message"
    await a.send_to(bytes_data=b"\x00\x01")
    assert json.loads(await a.receive_from())["code"] == "bad_frame"
    assert await send(a, {"action": "ping"}) == {"type": "pong"}
    assert await database_sync_to_async(get_store().last_seq)(str(chat.pk)) == 0
    await a.disconnect()


async def test_non_members_can_neither_join_nor_send_nor_sync(alice_bob_direct, make_user):
    _, _, chat = alice_bob_direct
    eve = await database_sync_to_async(make_user)("eve")
    e, _ = await open_socket(eve)
    chat_id = str(chat.pk)
    frames = [
        {"action": "joinChat", "chatId": chat_id},
        {"action": "sendMessage", "chatId": chat_id, "message": "x", "clientMessageId": "e1"},
        {"action": "sync", "chatId": chat_id, "afterSeq": 0},
        {"action": "joinChat", "chatId": chat_id.upper()},
    ]
    for frame in frames:
        assert (await send(e, frame))["code"] == "not_member"
    assert (await send(e, {"action": "joinChat", "chatId": "not-a-uuid"}))["code"] == (
        "invalid_field"
    )
    assert await database_sync_to_async(get_store().last_seq)(chat_id) == 0
    await e.disconnect()


async def test_every_spelling_of_a_chat_id_is_the_one_chat(alice_bob_direct):
    alice, bob, chat = alice_bob_direct
    chat_id = str(chat.pk)
    (b,) = await joined(chat_id, bob)
    a, _ = await open_socket(alice)
    spellings = [chat_id.upper(), "{" + chat_id + "}", "urn:uuid:" + chat_id, chat.pk.hex]
    for n, spelling in enumerate(spellings):
        ack = await send(a, send_message(spelling, f"spelled {n}", "same-key"))
        assert (ack["type"], ack["chatId"], ack["seq"]) == ("ack", chat_id, 1)
    # One message, delivered once to the members joined under the canonical id.
    message = json.loads(await b.receive_from(timeout=5))
    assert message["chatId"] == chat_id and message["message"]["message"] == "spelled 0"
    assert await b.receive_nothing(timeout=0.3)
    assert await database_sync_to_async(get_store().last_seq)(chat_id) == 1
    too_long = await send(a, {"action": "joinChat", "chatId": chat_id + "0" * 100})
    assert too_long["code"] == "invalid_field"
    await a.disconnect()
    await b.disconnect()


async def test_unstorable_text_and_deep_nesting_are_error_frames_and_the_socket_lives(
    alice_bob_direct,
):
    alice, _, chat = alice_bob_direct
    chat_id = str(chat.pk)
    a, _ = await open_socket(alice)
    nul = await send(a, send_message(chat_id, "a\x00b", "nul-1"))
    assert (nul["type"], nul["code"], nul["clientMessageId"]) == ("error", "invalid_text", "nul-1")
    # A lone surrogate, in the message and in the key (which is then not echoed back).
    surrogate = await send(a, send_message(chat_id, "\ud800", "\udfff"))
    assert surrogate["code"] == "invalid_text" and "clientMessageId" not in surrogate
    deep = await send(a, "[" * 7000 + "]" * 7000)
    assert deep["code"] == "bad_json"
    assert await send(a, {"action": "ping"}) == {"type": "pong"}
    assert await database_sync_to_async(get_store().last_seq)(chat_id) == 0
    await a.disconnect()


async def test_sync_returns_what_was_missed_in_pages(alice_bob_direct, settings):
    alice, bob, chat = alice_bob_direct
    chat_id = str(chat.pk)
    a, _ = await open_socket(alice)
    for n in range(1, 6):
        frame = {
            "action": "sendMessage",
            "chatId": chat_id,
            "message": f"m{n}",
            "clientMessageId": f"{n}",
        }
        assert (await send(a, frame))["seq"] == n
    b, _ = await open_socket(bob)
    joined = await send(b, {"action": "joinChat", "chatId": chat_id})
    assert joined["lastSeq"] == 5
    history = await send(b, {"action": "sync", "chatId": chat_id, "afterSeq": 2})
    assert [m["seq"] for m in history["messages"]] == [3, 4, 5]
    assert history["hasMore"] is False
    assert [m["message"] for m in history["messages"]] == ["m3", "m4", "m5"]
    await a.disconnect()
    await b.disconnect()


async def test_leave_stops_live_messages(alice_bob_direct):
    alice, bob, chat = alice_bob_direct
    chat_id = str(chat.pk)
    a, _ = await open_socket(alice)
    b, _ = await open_socket(bob)
    await send(b, {"action": "joinChat", "chatId": chat_id})
    assert await send(b, {"action": "leaveChat", "chatId": chat_id}) == {
        "type": "left",
        "chatId": chat_id,
    }
    await send(
        a, {"action": "sendMessage", "chatId": chat_id, "message": "x", "clientMessageId": "1"}
    )
    assert await b.receive_nothing(timeout=0.3)
    await a.disconnect()
    await b.disconnect()


async def test_typing_and_read_reach_the_chat(alice_bob_direct):
    alice, bob, chat = alice_bob_direct
    chat_id = str(chat.pk)
    a, b = await joined(chat_id, alice, bob)
    await a.send_json_to({"action": "typing", "chatId": chat_id})
    typing = await b.receive_json_from()
    assert typing == {
        "type": "typing",
        "chatId": chat_id,
        "userId": str(alice.pk),
        "username": "alice",
    }
    await a.receive_json_from()
    await send(
        a, {"action": "sendMessage", "chatId": chat_id, "message": "x", "clientMessageId": "1"}
    )
    await a.receive_json_from()
    await b.receive_json_from()
    await b.send_json_to({"action": "markRead", "chatId": chat_id, "seq": 10**30})
    read = await a.receive_json_from()
    # Members are told what was recorded: capped at the chat's last message.
    assert read == {"type": "read", "chatId": chat_id, "userId": str(bob.pk), "seq": 1}
    membership = await database_sync_to_async(Membership.objects.get)(chat=chat, user=bob)
    # Capped at the chat's last message.
    assert (membership.last_read_seq, membership.last_delivered_seq) == (1, 1)
    await a.disconnect()
    await b.disconnect()


async def test_frames_beyond_the_rate_limit_are_refused(alice_bob_direct, settings):
    settings.CHAT_RATE_BURST = 3
    settings.CHAT_RATE_PER_SECOND = 0.01
    alice, _, _ = alice_bob_direct
    a, _ = await open_socket(alice)
    replies = [await send(a, {"action": "ping"}) for _ in range(4)]
    assert replies[:3] == [{"type": "pong"}] * 3
    assert replies[3]["code"] == "rate_limited"
    await a.disconnect()


async def test_connections_are_registered_while_open(make_user):
    user = await database_sync_to_async(make_user)()
    socket, connected = await open_socket(user)
    assert connected
    await get_registry().flush()
    now = int(time.time())
    live = await database_sync_to_async(get_store().connections_for_user)(str(user.pk), now=now)
    assert len(live) == 1 and live[0].ttl > now
    await socket.disconnect()
    await get_registry().flush()
    assert (
        await database_sync_to_async(get_store().connections_for_user)(str(user.pk), now=now) == []
    )


async def test_store_outage_is_a_retryable_error_and_nothing_is_broadcast(
    alice_bob_direct, settings
):
    from tests.stores import doubles

    settings.CHAT_STORE_BACKEND = "tests.stores.doubles.MessageStore"
    alice, bob, chat = alice_bob_direct
    chat_id = str(chat.pk)
    a, b = await joined(chat_id, alice, bob)
    frame = {"action": "sendMessage", "chatId": chat_id, "message": "x", "clientMessageId": "s1"}
    doubles.MessageStore.fail = True
    try:
        error = await send(a, frame)
    finally:
        doubles.MessageStore.fail = False
    assert error == {
        "type": "error",
        "code": "store_unavailable",
        "detail": "The message store is unavailable; retry shortly.",
        "action": "sendMessage",
        "chatId": chat_id,
        "clientMessageId": "s1",
        "retryable": True,
    }
    assert await b.receive_nothing(timeout=0.3)
    ack = await send(a, frame)
    assert ack["type"] == "ack" and ack["seq"] == 1
    assert (await b.receive_json_from())["message"]["messageId"] == ack["messageId"]
    await a.disconnect()
    await b.disconnect()


async def test_mark_delivered_records_the_capped_seq_and_tells_the_chat(alice_bob_direct):
    alice, bob, chat = alice_bob_direct
    chat_id = str(chat.pk)
    a, b = await joined(chat_id, alice, bob)
    await send(a, send_message(chat_id, "one", "k1"))
    await b.receive_from(timeout=5)
    await a.receive_from(timeout=5)
    await b.send_to(
        text_data=json.dumps({"action": "markDelivered", "chatId": chat_id, "seq": 10**12})
    )
    for socket in (a, b):
        frame = json.loads(await socket.receive_from(timeout=5))
        assert frame == {"type": "delivered", "chatId": chat_id, "userId": str(bob.pk), "seq": 1}
    membership = await database_sync_to_async(Membership.objects.get)(chat=chat, user=bob)
    assert (membership.last_delivered_seq, membership.last_read_seq) == (1, 0)
    await a.disconnect()
    await b.disconnect()
