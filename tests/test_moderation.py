"""Moderation reaches open sockets (in one process; tests/live/test_moderation.py runs the same
on two processes sharing Redis): sessions ended, users deactivated, members removed."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django.test import Client

from chat.models import Membership
from chatsite.asgi import application
from tests.frames import send_message

pytestmark = pytest.mark.django_db(transaction=True)

HEADERS = [(b"host", b"localhost"), (b"origin", b"http://localhost")]


async def logged_in(user) -> Client:
    client = Client()
    await database_sync_to_async(client.force_login)(user)
    return client


async def socket_of(client: Client):
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())
    socket = WebsocketCommunicator(application, "/ws/", headers=[*HEADERS, cookie])
    connected, _ = await socket.connect()
    return socket if connected else None


async def send(socket, frame):
    await socket.send_to(text_data=json.dumps(frame))
    return json.loads(await socket.receive_from(timeout=5))


async def closed_with(socket) -> int:
    output = await socket.receive_output(timeout=2)
    assert output["type"] == "websocket.close", output
    return output["code"]


@pytest.fixture
def trio(make_user, make_chat):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    return alice, bob, carol, make_chat(alice, bob, carol, name="Room")


async def test_a_removed_member_leaves_the_chat_at_once_and_is_refused_after(trio):
    alice, bob, _, chat = trio
    chat_id = str(chat.pk)
    a = await socket_of(await logged_in(alice))
    bobs = [await socket_of(await logged_in(bob)) for _ in range(2)]
    for socket in [a, *bobs]:
        assert (await send(socket, {"action": "joinChat", "chatId": chat_id}))["type"] == "joined"
    assert (await send(bobs[0], send_message(chat_id, "before", "b-1")))["type"] == "ack"
    for socket in (a, *bobs):  # the sender's own sockets receive it too
        assert json.loads(await socket.receive_from(timeout=5))["type"] == "message"
    await database_sync_to_async(Membership.objects.filter(chat=chat, user=bob).delete)()
    for socket in bobs:
        assert json.loads(await socket.receive_from(timeout=2)) == {
            "type": "removed",
            "chatId": chat_id,
        }
    # Sending, syncing and joining again are refused; what others send no longer reaches him.
    refused = await send(bobs[0], send_message(chat_id, "after", "b-2"))
    assert (refused["type"], refused["code"]) == ("error", "not_member")
    synced = await send(bobs[1], {"action": "sync", "chatId": chat_id, "afterSeq": 0})
    assert synced["code"] == "not_member"
    rejoin = await send(bobs[1], {"action": "joinChat", "chatId": chat_id})
    assert rejoin["code"] == "not_member"
    assert (await send(a, send_message(chat_id, "without bob", "a-1")))["type"] == "ack"
    assert json.loads(await a.receive_from(timeout=5))["type"] == "message"
    for socket in bobs:
        assert await socket.receive_nothing(timeout=0.3)
    # Alice's and the other sockets of Bob are untouched.
    for socket in (a, *bobs):
        assert await send(socket, {"action": "ping"}) == {"type": "pong"}
        await socket.disconnect()


async def test_logging_out_closes_that_sessions_sockets_and_no_other(make_user):
    alice = await database_sync_to_async(make_user)()
    phone, laptop = await logged_in(alice), await logged_in(alice)
    on_phone, on_laptop = await socket_of(phone), await socket_of(laptop)
    response = await database_sync_to_async(phone.post)("/accounts/logout/")
    assert response.status_code == 302
    assert await closed_with(on_phone) == 4401
    assert await send(on_laptop, {"action": "ping"}) == {"type": "pong"}
    assert await socket_of(phone) is None  # the old cookie opens nothing
    await on_laptop.disconnect()


async def test_a_deleted_session_closes_its_sockets(make_user):
    alice = await database_sync_to_async(make_user)()
    client = await logged_in(alice)
    socket = await socket_of(client)
    key = client.cookies["sessionid"].value
    await database_sync_to_async(Session.objects.filter(session_key=key).delete)()
    assert await closed_with(socket) == 4401


async def test_a_password_change_closes_every_socket_of_the_user(make_user):
    alice, bob = (
        await database_sync_to_async(make_user)(),
        await database_sync_to_async(make_user)(),
    )
    clients = [await logged_in(alice) for _ in range(2)]
    sockets = [await socket_of(c) for c in clients]
    others = await socket_of(await logged_in(bob))

    def change_password():
        alice.set_password("a-new-password-42")
        alice.save()

    await database_sync_to_async(change_password)()
    assert [await closed_with(s) for s in sockets] == [4401, 4401]
    assert await socket_of(clients[0]) is None
    assert await send(others, {"action": "ping"}) == {"type": "pong"}
    await others.disconnect()


async def test_deactivating_a_user_closes_their_sockets_with_4403(make_user):
    alice = await database_sync_to_async(make_user)()
    client = await logged_in(alice)
    socket = await socket_of(client)

    def deactivate():
        alice.is_active = False
        alice.save(update_fields=["is_active"])

    await database_sync_to_async(deactivate)()
    assert await closed_with(socket) == 4403
    assert await socket_of(client) is None


async def test_saving_a_user_without_revoking_anything_leaves_their_sockets_open(make_user):
    alice = await database_sync_to_async(make_user)()
    socket = await socket_of(await logged_in(alice))

    def rename():
        alice.first_name = "Alice"
        alice.save()

    await database_sync_to_async(rename)()
    assert await socket.receive_nothing(timeout=0.3)
    assert await send(socket, {"action": "ping"}) == {"type": "pong"}
    await socket.disconnect()
