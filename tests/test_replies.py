"""Replies quote the message they answer; emoji reactions are toggled live; members search the
messages of their chats; the user picker suggests people by the start of their name."""

import io
import json
from urllib.parse import quote

import pytest
from channels.db import database_sync_to_async

from tests.clients import api_as
from tests.frames import send_message
from tests.sockets import joined_socket, send

pytestmark = pytest.mark.django_db(transaction=True)


def history(user, chat_id):
    return api_as(user).get(f"/api/chats/{chat_id}/messages").json()["messages"]


async def frames_of(socket, count):
    return [json.loads(await socket.receive_from(timeout=3)) for _ in range(count)]


async def test_a_reply_carries_its_quote_live_and_in_history(alice_bob_room, either_store):
    alice, bob, chat = alice_bob_room
    chat_id = str(chat.pk)
    a, _ = await joined_socket(alice, chat_id)
    b, _ = await joined_socket(bob, chat_id)
    first = await send(a, send_message(chat_id, "Lunch at noon?", "k1"))
    await frames_of(a, 1)
    await frames_of(b, 1)
    reply = {**send_message(chat_id, "Yes!", "k2"), "replyTo": first["messageId"]}
    ack = await send(b, reply)
    assert ack["type"] == "ack" and ack["seq"] == 2
    for socket in (a, b):
        (frame,) = await frames_of(socket, 1)
        assert frame["message"]["replyTo"] == {
            "seq": 1, "messageId": first["messageId"], "userId": str(alice.pk),
            "username": "alice", "message": "Lunch at noon?", "attachments": 0, "deleted": False,
        }  # fmt: skip
    # A retried send answers with the original, quoting the same.
    again = await send(b, reply)
    assert (again["duplicate"], again["seq"]) == (True, 2)
    # A reply to a message of no chat, another chat, or a deleted one is refused.
    for wrong in ("nope", "0" * 36):
        refused = await send(b, {**send_message(chat_id, "?", f"k-{wrong}"), "replyTo": wrong})
        assert (refused["type"], refused["code"]) == ("error", "no_such_message")
    bad = await send(b, {**send_message(chat_id, "?", "k3"), "replyTo": 7})
    assert bad["code"] == "invalid_field"
    await a.send_to(
        text_data=json.dumps(
            {"action": "deleteMessage", "chatId": chat_id, "messageId": first["messageId"]}
        )
    )
    await frames_of(a, 2)
    await frames_of(b, 1)
    refused = await send(b, {**send_message(chat_id, "late", "k4"), "replyTo": first["messageId"]})
    assert refused["code"] == "no_such_message"
    # History: the quote of a deleted message shows nothing of it.
    messages = await database_sync_to_async(history)(bob, chat_id)
    answer = next(m for m in messages if m["seq"] == 2)
    assert answer["replyTo"] == {"seq": 1, "messageId": first["messageId"], "deleted": True}
    assert next(m for m in messages if m["seq"] == 1)["replyTo"] is None
    for socket in (a, b):
        await socket.disconnect()


def test_a_quote_from_an_older_page_is_read_with_the_page(alice_bob_room, either_store):
    alice, bob, chat = alice_bob_room
    url = f"/api/chats/{chat.pk}/messages"
    first = api_as(alice).post(url, {"message": "the plan"}, format="json").json()
    for n in range(5):
        api_as(alice).post(url, {"message": f"filler {n}"}, format="json")
    reply = api_as(bob).post(url, {"message": "ok", "replyTo": first["messageId"]}, format="json")
    assert reply.status_code == 201 and reply.json()["replyTo"]["message"] == "the plan"
    (newest,) = api_as(bob).get(url, {"limit": 1}).json()["messages"]
    assert newest["replyTo"]["seq"] == 1 and newest["replyTo"]["username"] == "alice"
    edited = f"{url}/{first['messageId']}"
    api_as(alice).patch(edited, {"message": "the new plan"}, format="json")
    (newest,) = api_as(bob).get(url, {"limit": 1}).json()["messages"]
    assert newest["replyTo"]["message"] == "the new plan"
    missing = api_as(bob).post(url, {"message": "x", "replyTo": "nope"}, format="json")
    assert (missing.status_code, missing.json()["code"]) == (404, "no_such_message")


async def test_reactions_toggle_live_and_show_in_history(alice_bob_room, make_user, either_store):
    alice, bob, chat = alice_bob_room
    chat_id = str(chat.pk)
    a, _ = await joined_socket(alice, chat_id)
    b, _ = await joined_socket(bob, chat_id)
    ack = await send(a, send_message(chat_id, "Ship it?", "k1"))
    await frames_of(a, 1)
    await frames_of(b, 1)
    react = {"action": "react", "chatId": chat_id, "messageId": ack["messageId"]}
    await b.send_to(text_data=json.dumps({**react, "emoji": "👍", "on": True}))
    reacted = {f["type"]: f for f in await frames_of(b, 2)}
    assert reacted["reacted"]["reactions"] == [
        {"emoji": "👍", "count": 1, "userIds": [str(bob.pk)]}
    ]
    (live,) = await frames_of(a, 1)
    assert (live["type"], live["seq"], live["messageId"]) == ("reactions", 1, ack["messageId"])
    assert live["reactions"] == reacted["reacted"]["reactions"]
    # Again: nothing changes and nobody is told; a second person and a second emoji add up.
    assert (await send(b, {**react, "emoji": "👍", "on": True}))["type"] == "reacted"
    assert await a.receive_nothing(timeout=0.3)
    await a.send_to(text_data=json.dumps({**react, "emoji": "👍", "on": True}))
    await frames_of(a, 2)
    await frames_of(b, 1)
    await a.send_to(text_data=json.dumps({**react, "emoji": "🎉", "on": True}))
    await frames_of(a, 2)
    (live,) = await frames_of(b, 1)
    assert [(r["emoji"], r["count"]) for r in live["reactions"]] == [("👍", 2), ("🎉", 1)]
    # Taking one back.
    await b.send_to(text_data=json.dumps({**react, "emoji": "👍", "on": False}))
    await frames_of(b, 2)
    (live,) = await frames_of(a, 1)
    assert live["reactions"][0] == {"emoji": "👍", "count": 1, "userIds": [str(alice.pk)]}
    # Not an emoji, not a boolean, not a message: refused.
    for emoji in ("a", "<b>", "👍 x", "", "👍" * 17):
        assert (await send(b, {**react, "emoji": emoji, "on": True}))["code"] == "invalid_field"
    assert (await send(b, {**react, "emoji": "👍", "on": 1}))["code"] == "invalid_field"
    missing = await send(b, {**react, "messageId": "nope", "emoji": "👍", "on": True})
    assert missing["code"] == "no_such_message"
    messages = await database_sync_to_async(history)(bob, chat_id)
    assert messages[0]["reactions"] == [
        {"emoji": "👍", "count": 1, "userIds": [str(alice.pk)]},
        {"emoji": "🎉", "count": 1, "userIds": [str(alice.pk)]},
    ]
    # A deleted message loses its reactions and takes no more.
    await a.send_to(
        text_data=json.dumps(
            {"action": "deleteMessage", "chatId": chat_id, "messageId": ack["messageId"]}
        )
    )
    await frames_of(a, 2)
    await frames_of(b, 1)
    assert (await database_sync_to_async(history)(bob, chat_id))[0]["reactions"] == []
    gone = await send(b, {**react, "emoji": "👍", "on": True})
    assert gone["code"] == "no_such_message"
    for socket in (a, b):
        await socket.disconnect()


def test_reactions_over_rest_and_their_limits(alice_bob_room, make_user, settings):
    alice, bob, chat = alice_bob_room
    url = f"/api/chats/{chat.pk}/messages"
    sent = api_as(alice).post(url, {"message": "vote"}, format="json").json()
    one = f"{url}/{sent['messageId']}/reactions"
    put = api_as(bob).put(f"{one}/{quote('❤️')}")
    assert put.status_code == 200
    assert put.json()["reactions"] == [{"emoji": "❤️", "count": 1, "userIds": [str(bob.pk)]}]
    assert api_as(bob).put(f"{one}/{quote('❤️')}").json() == put.json()
    assert api_as(bob).put(f"{one}/x").json()["code"] == "invalid_field"
    outsider = make_user("mallory")
    assert api_as(outsider).put(f"{one}/{quote('👍')}").status_code == 403
    # At most so many different emoji on one message.
    emoji = [chr(0x1F600 + n) for n in range(25)]
    codes = [api_as(alice).put(f"{one}/{quote(e)}").status_code for e in emoji]
    assert codes == [200] * 19 + [400] * 6
    assert api_as(bob).put(f"{one}/{quote(emoji[0])}").status_code == 200  # one already there
    gone = api_as(bob).delete(f"{one}/{quote('❤️')}")
    assert gone.status_code == 200
    assert all(r["emoji"] != "❤️" for r in gone.json()["reactions"])


def test_search_finds_messages_of_your_chats_only(
    alice_bob_room, make_user, make_chat, either_store
):
    alice, bob, chat = alice_bob_room
    carol = make_user("carol")
    theirs = make_chat(bob, carol, name="bob and carol")
    direct = make_chat(alice, carol)
    for who, room, text in [
        (alice, chat, "Budget meeting at 3"),
        (bob, chat, "meetings are long"),
        (carol, direct, "The MEETUP is on"),
        (bob, theirs, "secret meeting"),
    ]:
        api_as(who).post(f"/api/chats/{room.pk}/messages", {"message": text}, format="json")
    found = api_as(alice).get("/api/search", {"q": "meet"}).json()["results"]
    assert [(r["chatName"], r["message"]["message"]) for r in found] == [
        ("carol", "The MEETUP is on"),
        ("room", "meetings are long"),
        ("room", "Budget meeting at 3"),
    ]
    assert found[0]["message"]["chatId"] == str(direct.pk) and found[0]["message"]["seq"] == 1
    words = api_as(alice).get("/api/search", {"q": "budget, MEET!"}).json()["results"]
    assert [r["message"]["message"] for r in words] == ["Budget meeting at 3"]
    one_chat = api_as(alice).get("/api/search", {"q": "meet", "chatId": str(direct.pk)})
    assert len(one_chat.json()["results"]) == 1
    assert (
        api_as(alice).get("/api/search", {"q": "meet", "chatId": str(theirs.pk)}).status_code == 403
    )
    assert api_as(alice).get("/api/search", {"q": "?!"}).status_code == 400
    assert (
        api_as(alice)
        .get("/api/search", {"q": "meet", "limit": 1})
        .json()["results"][0]["message"]["message"]
        == "The MEETUP is on"
    )


def test_the_picker_suggests_known_people_first_and_strangers_from_three_letters(
    make_user, make_chat
):
    alice = make_user("alice")
    known, stranger = make_user("Albert"), make_user("alfred")
    make_user("alvin", is_active=False)
    make_chat(alice, known)

    def suggest(prefix):
        users = api_as(alice).get("/api/users/suggestions", {"prefix": prefix}).json()["users"]
        return [(u["username"], u["known"]) for u in users]

    assert suggest("a") == [("Albert", True)]
    assert suggest("AL") == [("Albert", True)]
    assert suggest("alf") == [("alfred", False)]
    assert suggest("alb") == [("Albert", True)]
    assert suggest("zz") == []
    # Looked up by exact name, a stranger becomes known (and may be added to chats).
    api_as(alice).get("/api/users", {"username": "alfred"})
    assert suggest("a") == [("Albert", True), ("alfred", True)]
    assert api_as(alice).get("/api/users/suggestions").status_code == 400
    assert api_as(alice).get("/api/users/suggestions", {"prefix": "  "}).status_code == 400
    found = api_as(alice).get("/api/users/suggestions", {"prefix": "alf"}).json()["users"]
    assert found[0]["userId"] == str(stranger.pk)


def test_the_index_writer_writes_within_its_delay_and_a_rebuild_restores_it(
    alice_bob_room, settings, either_store
):
    import time

    from django.core.management import call_command

    from chat.models import SearchEntry
    from chat.stores.textsearch import search_index

    alice, bob, chat = alice_bob_room
    settings.CHAT_SEARCH_INDEX_DELAY = 0.05
    url = f"/api/chats/{chat.pk}/messages"
    api_as(alice).post(url, {"message": "written in the background"}, format="json")
    deadline = time.monotonic() + 5
    while not SearchEntry.objects.filter(chat_id=str(chat.pk)).exists():
        assert time.monotonic() < deadline, "the writer did not write"
        time.sleep(0.05)
    settings.CHAT_SEARCH_INDEX_DELAY = 0
    for n in range(3):
        api_as(bob).post(url, {"message": f"older words {n}"}, format="json")
    SearchEntry.objects.filter(chat_id=str(chat.pk)).delete()  # lost (a killed process)
    assert api_as(alice).get("/api/search", {"q": "older"}).json()["results"] == []
    out = io.StringIO()
    call_command("search_index", "--rebuild", stdout=out)
    assert "Indexed" in out.getvalue()
    found = api_as(alice).get("/api/search", {"q": "older"}).json()["results"]
    assert [r["message"]["message"] for r in found] == [f"older words {n}" for n in (2, 1, 0)]
    assert search_index().delay == 0


def test_search_takes_hostile_queries_as_plain_words(alice_bob_room, either_store):
    alice, _, chat = alice_bob_room
    url = f"/api/chats/{chat.pk}/messages"
    api_as(alice).post(url, {"message": "alpha beta gamma"}, format="json")
    # Full-text query syntax, quotes, SQL: only the words count (all of them must match).
    for query, found in [
        ("alpha:* | !beta & 'gamma'", ["alpha beta gamma"]),
        ("ALPHA\\ (beta) <-> gamma", ["alpha beta gamma"]),
        ("alpha\u00a0beta", ["alpha beta gamma"]),
        ("alpha'); DROP TABLE chat_searchentry; --", []),
    ]:
        answer = api_as(alice).get("/api/search", {"q": query})
        assert answer.status_code == 200, (query, answer.content)
        assert [r["message"]["message"] for r in answer.json()["results"]] == found, query
    assert len(api_as(alice).get("/api/search", {"q": "gamma"}).json()["results"]) == 1
    assert api_as(alice).get("/api/search", {"q": "alpha\x00"}).status_code == 400
    assert api_as(alice).get("/api/search", {"q": "x" * 201}).status_code == 400
    assert (
        api_as(alice).get("/api/search", {"q": "alpha", "chatId": "not-a-chat"}).status_code == 400
    )


def test_many_members_reacting_at_once_count_once_each(make_user, make_chat):
    import threading

    from django.db import connections

    from chat import services

    people = [make_user() for _ in range(8)]
    chat = make_chat(*people, name="crowd")
    url = f"/api/chats/{chat.pk}/messages"
    sent = api_as(people[0]).post(url, {"message": "vote now"}, format="json").json()
    errors = []

    def react(person):
        try:
            for _ in range(3):  # each person's retries too
                services.reaction_set(
                    chat_id=str(chat.pk), user_id=str(person.pk),
                    message_id=sent["messageId"], emoji="👍", on=True,
                )  # fmt: skip
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=react, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    (reaction,) = api_as(people[1]).get(url).json()["messages"][0]["reactions"]
    assert reaction["count"] == 8 and len(set(reaction["userIds"])) == 8


def test_the_index_writer_keeps_every_text_of_a_burst_from_many_threads():
    # Eight senders' threads put at once while the writer thread swaps the batch out under
    # them: every text is written, none twice, none lost in a swap.
    import threading
    import time

    from chat.models import SearchEntry
    from chat.stores.base import Message
    from chat.stores.textsearch import SearchIndex

    index = SearchIndex(delay=0.1)
    chat_id = "7" * 32

    def sender(n: int):
        for i in range(50):
            seq = n * 50 + i + 1
            index.put(
                Message(
                    chat_id=chat_id, seq=seq, message_id=f"m{seq}", user_id="1",
                    username="alice", body=f"burst {seq}", client_message_id=f"c{seq}",
                    timestamp=seq, attachments=(), deleted=False, edited_at=None, kind="text",
                    reply_to=0,
                )
            )  # fmt: skip

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    deadline = time.monotonic() + 10
    while SearchEntry.objects.filter(chat_id=chat_id).count() < 400:
        assert time.monotonic() < deadline, "the writer did not write every text"
        time.sleep(0.05)
    rows = dict(SearchEntry.objects.filter(chat_id=chat_id).values_list("seq", "body"))
    assert rows == {seq: f"burst {seq}" for seq in range(1, 401)}


@pytest.mark.parametrize(
    ("emoji", "accepted"),
    [
        ("👍", True), ("👍🏽", True), ("🇫🇷", True), ("1️⃣", True), ("👨‍👩‍👧", True),
        ("🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f", True),  # England
        ("❤", True), ("🫠", True),
        ("﷽", False), ("\u2800", False), ("👍👍", False), ("a", False), ("👍 ", False),
        ("\u200d", False), ("©x", False), ("<b>", False),
    ],
)  # fmt: skip
def test_a_reaction_is_exactly_one_unicode_emoji(alice_bob_room, emoji, accepted):
    alice, _, chat = alice_bob_room
    url = f"/api/chats/{chat.pk}/messages"
    sent = api_as(alice).post(url, {"message": "react"}, format="json").json()
    put = api_as(alice).put(f"{url}/{sent['messageId']}/reactions/{quote(emoji)}")
    assert (put.status_code == 200) is accepted, put.content
    if not accepted:
        assert put.json()["code"] == "invalid_field"


def test_concurrent_new_kinds_of_reaction_stop_at_the_cap(make_user, make_chat):
    import threading

    from django.db import connections

    from chat import services
    from chat.models import Reaction

    people = [make_user() for _ in range(8)]
    chat = make_chat(*people, name="crowd")
    url = f"/api/chats/{chat.pk}/messages"
    sent = api_as(people[0]).post(url, {"message": "vote now"}, format="json").json()
    kinds = [chr(0x1F600 + n) for n in range(40)]
    barrier, outcomes = threading.Barrier(8), []

    def react(n, person):
        barrier.wait()
        try:
            for emoji in kinds[n * 5 : n * 5 + 5]:
                try:
                    services.reaction_set(
                        chat_id=str(chat.pk), user_id=str(person.pk),
                        message_id=sent["messageId"], emoji=emoji, on=True,
                    )  # fmt: skip
                    outcomes.append("ok")
                except services.errors.InvalidInput as exc:
                    outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=react, args=(n, p)) for n, p in enumerate(people)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stored = set(Reaction.objects.filter(chat=chat).values_list("emoji", flat=True))
    assert len(stored) == services.REACTIONS_PER_MESSAGE
    assert outcomes.count("ok") == 20 and outcomes.count("too_many_reactions") == 20
