"""Moderation reaches open sockets (in one process; tests/live/test_moderation.py runs the same
on two processes sharing Redis): sessions ended, users deactivated, members removed."""

import json

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.models import Session
from django.test import Client

from chat.models import Membership
from tests.clients import api_as
from tests.frames import send_message
from tests.sockets import closed_with, joined_socket, logged_in, next_of, send, socket_of

pytestmark = pytest.mark.django_db(transaction=True)


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


# -- Rooms: lock, archive, delete; messages; bans (through the admin) ----------------------------


def api_call(user, method, *args, **kwargs):
    return getattr(api_as(user), method)(*args, **kwargs)


def staff_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user("moderator", is_staff=True, is_superuser=True))
    return client


def admin_log(obj) -> list[str]:
    from django.contrib.admin.models import LogEntry

    entries = LogEntry.objects.filter(object_id=str(obj.pk)).order_by("action_time")
    return [f"{e.user.username}: {e.get_change_message()}" for e in entries]


async def test_a_locked_chat_is_read_only_live_and_unlocking_reopens_it(trio, make_user):
    alice, bob, _, chat = trio
    chat_id = str(chat.pk)
    staff = await database_sync_to_async(staff_client)(make_user)
    a, _ = await joined_socket(alice, chat_id)
    b, _ = await joined_socket(bob, chat_id)
    assert (await send(a, send_message(chat_id, "before", "k-1")))["type"] == "ack"
    for socket in (a, b):
        await socket.receive_from(timeout=5)  # the message
    changelist = "/admin/chat/chatroom/"
    locked = await database_sync_to_async(staff.post)(
        changelist, {"action": "lock", "_selected_action": [chat_id]}
    )
    assert locked.status_code == 302
    for socket in (a, b):
        assert json.loads(await socket.receive_from(timeout=2)) == {
            "type": "chatUpdated", "chatId": chat_id, "readOnly": True, "chatName": "Room",
        }  # fmt: skip
    refused = await send(a, send_message(chat_id, "during", "k-2"))
    assert (refused["type"], refused["code"], refused["clientMessageId"]) == (
        "error", "chat_locked", "k-2",
    )  # fmt: skip
    synced = await send(b, {"action": "sync", "chatId": chat_id, "afterSeq": 0})
    assert [m["message"] for m in synced["messages"]] == ["before"]  # reads still work
    rest = await database_sync_to_async(api_call)(
        alice, "post", f"/api/chats/{chat_id}/messages", {"message": "over rest"}, format="json"
    )
    assert (rest.status_code, rest.json()["code"]) == (403, "chat_locked")
    # A socket opened while it is locked is told at its join.
    c, joined = await joined_socket(alice, chat_id)
    assert joined["readOnly"] is True
    await database_sync_to_async(staff.post)(
        changelist, {"action": "unlock", "_selected_action": [chat_id]}
    )
    for socket in (a, b, c):  # (b's sync told the chat how far b has received it, first)
        assert (await next_of(socket, "chatUpdated"))["readOnly"] is False
    assert (await send(a, send_message(chat_id, "after", "k-3")))["type"] == "ack"
    log = await database_sync_to_async(admin_log)(chat)
    assert log == ["moderator: Locked", "moderator: Unlocked"]
    for socket in (a, b, c):
        await socket.disconnect()


def test_an_archived_chat_leaves_the_list_and_is_read_only(trio, make_user):
    alice, _, _, chat = trio
    staff = staff_client(make_user)
    staff.post("/admin/chat/chatroom/", {"action": "archive", "_selected_action": [chat.pk]})
    listed = api_as(alice).get("/api/chats").json()["chats"]
    assert str(chat.pk) not in [c["chatId"] for c in listed]
    sent = api_as(alice).post(
        f"/api/chats/{chat.pk}/messages", {"message": "hi"}, content_type="application/json"
    )
    assert sent.status_code == 403
    assert api_as(alice).get(f"/api/chats/{chat.pk}/messages").status_code == 200


async def test_deleting_a_room_tells_its_members_and_deletes_its_history(trio, make_user):
    from chat.stores import get_store

    alice, bob, _, chat = trio
    chat_id = str(chat.pk)
    staff = await database_sync_to_async(staff_client)(make_user)
    a, _ = await joined_socket(alice, chat_id)
    b = await socket_of(await logged_in(bob))  # a member whose socket has not joined it
    for n in range(3):
        assert (await send(a, send_message(chat_id, f"m{n}", f"k{n}")))["type"] == "ack"
        await a.receive_from(timeout=5)
    confirm = await database_sync_to_async(staff.get)(f"/admin/chat/chatroom/{chat_id}/delete/")
    assert b"Messages (deleted from the message store): 3" in confirm.content
    deleted = await database_sync_to_async(staff.post)(
        f"/admin/chat/chatroom/{chat_id}/delete/", {"post": "yes"}
    )
    assert deleted.status_code == 302
    frames = [json.loads(await a.receive_from(timeout=2)) for _ in range(2)]
    assert {"type": "chatDeleted", "chatId": chat_id} in frames
    assert {"type": "chatDeleted", "chatId": chat_id} in [
        json.loads(await b.receive_from(timeout=2)) for _ in range(2)
    ]
    refused = await send(a, send_message(chat_id, "gone?", "k9"))
    assert refused["code"] == "not_member"
    store = get_store()
    assert await database_sync_to_async(store.last_seq)(chat_id) == 0
    page = await database_sync_to_async(store.history)(chat_id, limit=10)
    assert page.messages == []
    for socket in (a, b):
        await socket.disconnect()


async def test_a_moderator_deletes_a_message_live_and_in_history(trio, make_user):
    alice, bob, _, chat = trio
    chat_id = str(chat.pk)
    staff = await database_sync_to_async(staff_client)(make_user)
    a, _ = await joined_socket(alice, chat_id)
    b, _ = await joined_socket(bob, chat_id)
    ack = await send(a, send_message(chat_id, "something rude", "rude"))
    for socket in (a, b):
        await socket.receive_from(timeout=5)
    page = await database_sync_to_async(staff.get)(f"/admin/chat/chatroom/{chat_id}/messages/")
    assert page.status_code == 200 and b"something rude" in page.content
    removed = await database_sync_to_async(staff.post)(
        f"/admin/chat/chatroom/{chat_id}/messages/", {"seq": str(ack["seq"])}
    )
    assert removed.status_code == 302
    for socket in (a, b):
        assert json.loads(await socket.receive_from(timeout=2)) == {
            "type": "messageDeleted", "chatId": chat_id, "seq": ack["seq"],
            "messageId": ack["messageId"],
        }  # fmt: skip
    history = await database_sync_to_async(api_call)(bob, "get", f"/api/chats/{chat_id}/messages")
    (message,) = history.json()["messages"]
    assert (message["deleted"], message["message"]) == (True, "")
    page = await database_sync_to_async(staff.get)(f"/admin/chat/chatroom/{chat_id}/messages/")
    assert b"something rude" not in page.content
    log = await database_sync_to_async(admin_log)(chat)
    assert log == [f"moderator: Deleted message #1 ({ack['messageId']}) sent by alice"]
    bad = await database_sync_to_async(staff.post)(
        f"/admin/chat/chatroom/{chat_id}/messages/", {"seq": "²"}
    )
    assert bad.status_code == 302  # "no message #0", not a crash
    for socket in (a, b):
        await socket.disconnect()


async def test_a_ban_deactivates_ends_sessions_and_closes_sockets(make_user):
    alice, bob = (
        await database_sync_to_async(make_user)(),
        await database_sync_to_async(make_user)(),
    )
    staff = await database_sync_to_async(staff_client)(make_user)
    clients = [await logged_in(alice) for _ in range(2)]
    sockets = [await socket_of(c) for c in clients]
    other = await socket_of(await logged_in(bob))
    banned = await database_sync_to_async(staff.post)(
        "/admin/auth/user/", {"action": "ban", "_selected_action": [alice.pk]}
    )
    assert banned.status_code == 302
    assert [await closed_with(s) for s in sockets] == [4403, 4403]  # deactivated, not logged out
    await database_sync_to_async(alice.refresh_from_db)()
    assert not alice.is_active
    keys = [c.cookies["sessionid"].value for c in clients]
    assert not await database_sync_to_async(Session.objects.filter(session_key__in=keys).exists)()
    assert await socket_of(clients[0]) is None
    assert await send(other, {"action": "ping"}) == {"type": "pong"}
    assert (await database_sync_to_async(admin_log)(alice))[0].startswith("moderator: Banned")
    await other.disconnect()


def test_a_group_cannot_become_a_direct_chat_in_the_admin(trio, make_user):
    _, _, _, chat = trio
    staff = staff_client(make_user)
    form = staff.get(f"/admin/chat/chatroom/{chat.pk}/change/")
    assert form.status_code == 200 and b'name="chat_type"' not in form.content
    added = staff.post(
        "/admin/chat/chatroom/add/",
        {"name": "x", "chat_type": "direct", "locked": "", "archived": "",
         "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert added.status_code == 200 and b"a group stays a group" in added.content


def test_the_orm_stores_messages_are_searchable_and_deleted_as_tombstones(trio, make_user):
    from chat import services
    from chat.stores import get_store

    alice, _, _, chat = trio
    chat_id = str(chat.pk)
    for n, text in enumerate(["hello all", "buy cheap pills", "bye"]):
        services.message_send(
            chat_id=chat_id, user_id=str(alice.pk), username="alice", body=text,
            client_message_id=f"k{n}",
        )  # fmt: skip
    staff = staff_client(make_user)
    found = staff.get("/admin/chat/storedmessage/", {"q": "pills"})
    assert found.status_code == 200 and b"buy cheap pills" in found.content
    assert b"hello all" not in found.content
    spam = get_store().history(chat_id, limit=10).messages[1]
    response = staff.post(
        "/admin/chat/storedmessage/",
        {"action": "tombstone", "_selected_action": [_row_pk(spam)]},
    )
    assert response.status_code == 302
    texts = [(m.body, m.deleted) for m in get_store().history(chat_id, limit=10).messages]
    assert texts == [("bye", False), ("", True), ("hello all", False)]
    assert admin_log(chat) == [f"moderator: Deleted message #2 ({spam.message_id}) sent by alice"]
    # A moderator cannot add, edit or really delete a stored message.
    assert staff.get("/admin/chat/storedmessage/add/").status_code == 403
    assert b'value="delete_selected"' not in staff.get("/admin/chat/storedmessage/").content


def _row_pk(message) -> int:
    from chat.models import StoredMessage

    return StoredMessage.objects.get(message_id=message.message_id).pk


def test_a_direct_chat_keeps_its_pair_and_groups_their_size(make_user, make_chat, settings):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    direct, club = make_chat(alice, bob), make_chat(alice, bob, name="club")
    staff = staff_client(make_user)
    added = staff.post("/admin/chat/membership/add/", {"chat": direct.pk, "user": carol.pk})
    assert added.status_code == 200 and b"exactly its two people" in added.content
    settings.CHAT_GROUP_MAX_MEMBERS = 2
    full = staff.post("/admin/chat/membership/add/", {"chat": club.pk, "user": carol.pk})
    assert full.status_code == 200 and b"at most 2 members" in full.content
    assert Membership.objects.filter(user=carol).count() == 0


def test_delete_chat_history_deletes_only_deleted_chats(trio, capsys):
    import uuid

    from django.core.management import CommandError, call_command

    from chat import services
    from chat.stores import get_store

    alice, _, _, chat = trio
    gone = str(uuid.uuid4())  # a chat whose row is gone but whose messages stayed
    for chat_id in (str(chat.pk), gone):
        services.message_send(
            chat_id=chat_id, user_id=str(alice.pk), username="alice", body="x",
            client_message_id="k",
        )  # fmt: skip
    with pytest.raises(CommandError, match="still exists"):
        call_command("delete_chat_history", str(chat.pk))
    call_command("delete_chat_history", gone.upper())
    assert f"{gone}: 1 messages deleted" in capsys.readouterr().out
    assert get_store().last_seq(gone) == 0 and get_store().last_seq(str(chat.pk)) == 1


async def test_staff_adding_someone_one_by_one_puts_the_chat_in_their_list_live(
    make_user, make_chat
):
    """As the admin's "add membership" form and the shell do: one ``Membership`` saved."""

    def club_without_carol():
        alice, bob, carol = (make_user(n) for n in ("alice", "bob", "carol"))
        return carol, make_chat(alice, bob, name="club")

    carol, club = await database_sync_to_async(club_without_carol)()
    socket = await socket_of(await logged_in(carol))
    await database_sync_to_async(Membership.objects.create)(chat=club, user=carol)
    assert await next_of(socket, "added") == {
        "type": "added", "chatId": str(club.pk), "chatName": "club", "chatType": "group",
    }  # fmt: skip
    await socket.disconnect()
