"""Group management over REST: rename, add, remove, leave; notes in the conversation; the
members' sockets hear of it live."""

import json

import pytest
from channels.db import database_sync_to_async

from chat.models import Membership
from tests.clients import api_as
from tests.sockets import joined_socket, logged_in, next_of, socket_of

pytestmark = pytest.mark.django_db(transaction=True)


def find(client, user) -> str:
    return client.get("/api/users", {"username": user.username}).json()["users"][0]["userId"]


@pytest.fixture
def group(make_user, make_chat):
    alice, bob, carol, dave = (make_user(n) for n in ("alice", "bob", "carol", "dave"))
    return alice, bob, carol, dave, make_chat(alice, bob, name="Climbers")


def notes(user, chat) -> list[str]:
    messages = api_as(user).get(f"/api/chats/{chat.pk}/messages").json()["messages"]
    return [m["message"] for m in reversed(messages) if m["kind"] == "system"]


def test_members_rename_add_remove_and_leave_with_notes(group):
    alice, bob, carol, _, chat = group
    url = f"/api/chats/{chat.pk}"
    renamed = api_as(bob).patch(url, {"chatName": "Boulderers"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["chatName"] == "Boulderers"
    bobs = api_as(bob)
    carol_id = find(bobs, carol)
    added = bobs.post(f"{url}/members", {"participants": [carol_id]}, format="json")
    assert added.status_code == 200
    assert [m["username"] for m in added.json()["members"]] == ["alice", "bob", "carol"]
    # Bob did not create the group: he may not remove others, only leave.
    refused = bobs.delete(f"{url}/members/{carol.pk}")
    assert (refused.status_code, refused.json()["code"]) == (403, "not_the_creator")
    assert api_as(alice).delete(f"{url}/members/{carol.pk}").status_code == 200
    assert bobs.delete(f"{url}/members/{bob.pk}").status_code == 200
    assert notes(alice, chat) == [
        "bob renamed the group to Boulderers",
        "bob added carol",
        "alice removed carol",
        "bob left",
    ]
    assert list(chat.memberships.values_list("user__username", flat=True)) == ["alice"]
    # Who is out is out: no more changes from them.
    assert bobs.patch(url, {"chatName": "x"}, format="json").status_code == 403


def test_people_not_known_cannot_be_added_and_directs_have_no_members_to_manage(group, make_chat):
    alice, bob, _, dave, chat = group
    unknown = api_as(bob).post(
        f"/api/chats/{chat.pk}/members", {"participants": [str(dave.pk)]}, format="json"
    )
    assert unknown.status_code == 400  # Bob never found Dave: no probing of ids
    assert not Membership.objects.filter(user=dave).exists()
    direct = make_chat(alice, bob)
    response = api_as(alice).patch(f"/api/chats/{direct.pk}", {"chatName": "x"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "not_a_group")
    missing = api_as(alice).delete(f"/api/chats/{chat.pk}/members/{dave.pk}")
    assert (missing.status_code, missing.json()["code"]) == (404, "no_such_member")


async def test_the_members_sockets_hear_of_it_live(group):
    alice, _, carol, _, chat = group
    chat_id = str(chat.pk)
    a, _ = await joined_socket(alice, chat_id)
    c = await socket_of(await logged_in(carol))

    def add_carol():
        client = api_as(alice)
        return client.post(
            f"/api/chats/{chat_id}/members", {"participants": [find(client, carol)]},
            format="json",
        ).status_code  # fmt: skip

    assert await database_sync_to_async(add_carol)() == 200
    assert await next_of(c, "added") == {
        "type": "added", "chatId": chat_id, "chatName": "Climbers", "chatType": "group",
    }  # fmt: skip
    note = await next_of(a, "message")
    assert (note["message"]["kind"], note["message"]["message"]) == ("system", "alice added carol")

    def rename():
        return api_as(carol).patch(f"/api/chats/{chat_id}", {"chatName": "Crag"}, format="json")

    await database_sync_to_async(rename)()
    updated = await next_of(a, "chatUpdated")
    assert (updated["chatName"], updated["readOnly"]) == ("Crag", False)
    for socket in (a, c):
        await socket.disconnect()


@pytest.mark.parametrize(
    "name",
    ["Pay\u202eoti", "two\nlines", "line\u2028break", "zero\u200bwidth", "iso\u2066late",
     "tab\there", "hidden\u200dlink", "\u3164", "a\u034fb", "a\ufe00b", "soft\u00adhyphen"],
)  # fmt: skip
def test_group_names_hiding_what_they_say_are_refused(group, name):
    alice, bob, _, _, chat = group
    client = api_as(alice)
    renamed = client.patch(f"/api/chats/{chat.pk}", {"chatName": name}, format="json")
    assert (renamed.status_code, renamed.json()["code"]) == (400, "invalid_name")
    body = {"chatType": "group", "participants": [str(bob.pk)], "chatName": name}
    created = client.post("/api/chats", body, format="json")
    assert (created.status_code, created.json()["code"]) == (400, "invalid_name")
    chat.refresh_from_db()
    assert chat.name != name


def test_group_names_may_hold_emoji_joined_sequences(group):
    alice, _, _, _, chat = group
    name = "Family 👨‍👩‍👧 🏳️‍🌈"
    renamed = api_as(alice).patch(f"/api/chats/{chat.pk}", {"chatName": name}, format="json")
    assert renamed.status_code == 200 and renamed.json()["chatName"] == name


async def test_a_new_chat_is_announced_to_everyone_in_it_and_listed_by_its_id(group):
    alice, bob, carol, dave, _ = group
    b = await socket_of(await logged_in(bob))
    d = await socket_of(await logged_in(dave))
    a = await socket_of(await logged_in(alice))

    def start(chat_type, people, name=""):
        client = api_as(alice)
        participants = [find(client, person) for person in people]
        body = {"chatType": chat_type, "participants": participants, "chatName": name}
        return client.post("/api/chats", body, format="json").json()["chatId"]

    direct_id = await database_sync_to_async(start)("direct", [bob])
    expected = {"type": "added", "chatId": direct_id, "chatName": "", "chatType": "direct"}
    assert await next_of(b, "added") == expected
    assert await next_of(a, "added") == expected  # the starter's other tabs list it too
    group_id = await database_sync_to_async(start)("group", [bob, carol], "Band")
    added = await next_of(b, "added")
    assert (added["chatId"], added["chatName"], added["chatType"]) == (group_id, "Band", "group")
    # Dave is in neither chat: nothing reached him.
    assert await d.receive_nothing(timeout=0.3)
    # Asking again for an existing direct chat announces nothing.
    assert await database_sync_to_async(start)("direct", [bob]) == direct_id
    assert await b.receive_nothing(timeout=0.3)

    def summary(user, chat_id):
        response = api_as(user).get(f"/api/chats/{chat_id}")
        return response.status_code, response.json()

    def say_hi():
        api_as(alice).post(f"/api/chats/{direct_id}/messages", {"message": "hi"}, format="json")

    await database_sync_to_async(say_hi)()
    status, listed = await database_sync_to_async(summary)(bob, direct_id)
    assert status == 200
    assert (listed["chatType"], listed["unreadCount"]) == ("direct", 1)
    assert listed["lastMessage"]["message"] == "hi"
    assert [m["username"] for m in listed["members"]] == ["alice", "bob"]
    assert (await database_sync_to_async(summary)(dave, direct_id))[0] == 403
    assert (await database_sync_to_async(summary)(dave, "not-a-chat"))[0] == 404
    for socket in (a, b, d):
        await socket.disconnect()


async def test_hearing_of_a_new_chat_costs_its_sockets_no_database_work(group, monkeypatch):
    """The notice is turned into ``added`` frames in the event loop: per socket (so per delivered
    frame) nothing is read or written; a test database call here would fail the test."""
    from chat.realtime import consumers
    from chat.realtime.notices import get_notices

    _, bob, *_ = group
    sockets = [await socket_of(await logged_in(bob)) for _ in range(3)]

    def no_database(*args, **kwargs):
        raise AssertionError("database work while handing out a notice")

    monkeypatch.setattr(consumers, "database_sync_to_async", no_database)
    notice = {"type": "membershipAdded", "chatId": "c1", "members": [str(bob.pk)],
              "chatName": "Band", "chatType": "group"}  # fmt: skip
    get_notices().deliver(json.dumps(notice))
    for socket in sockets:
        assert await next_of(socket, "added") == {
            "type": "added", "chatId": "c1", "chatName": "Band", "chatType": "group",
        }  # fmt: skip
    monkeypatch.undo()
    for socket in sockets:
        await socket.disconnect()


def test_a_chat_is_listed_by_its_id_in_any_spelling_and_to_members_only(group):
    alice, bob, _, dave, chat = group
    api_as(alice).post(f"/api/chats/{chat.pk}/messages", {"message": "hi"}, format="json")
    for spelling in (str(chat.pk), str(chat.pk).upper(), chat.pk.hex):
        listed = api_as(bob).get(f"/api/chats/{spelling}")
        assert listed.status_code == 200, spelling
        assert (listed.json()["chatId"], listed.json()["unreadCount"]) == (str(chat.pk), 1)
        assert listed.json()["lastMessage"]["message"] == "hi"
    assert api_as(dave).get(f"/api/chats/{chat.pk}").status_code == 403
    for hostile in ("%00", "a" * 300, "..%2F..", "1%20OR%201=1"):
        # Refused as malformed (NUL) or not found; never a server error.
        assert api_as(bob).get(f"/api/chats/{hostile}").status_code in (400, 404), hostile


async def test_a_big_new_group_reaches_every_socket_of_every_member_once(make_user):
    """A burst: one group of 16 started at once reaches both sockets of each of its members,
    each exactly once; an outsider's socket hears nothing."""

    def people():
        return [make_user(f"p{n}") for n in range(17)]

    everyone = await database_sync_to_async(people)()
    creator, members, outsider = everyone[0], everyone[1:16], everyone[16]
    sockets = []
    for person in [creator, *members]:
        client = await logged_in(person)
        sockets += [await socket_of(client), await socket_of(client)]
    lurker = await socket_of(await logged_in(outsider))

    def start():
        client = api_as(creator)
        ids = [find(client, person) for person in members]
        body = {"chatType": "group", "chatName": "Crowd", "participants": ids}
        return client.post("/api/chats", body, format="json").json()["chatId"]

    chat_id = await database_sync_to_async(start)()
    for socket in sockets:
        added = await next_of(socket, "added")
        assert (added["chatId"], added["chatName"]) == (chat_id, "Crowd")
        assert await socket.receive_nothing(timeout=0.05)  # once
    assert await lurker.receive_nothing(timeout=0.2)
    for socket in [*sockets, lurker]:
        await socket.disconnect()
