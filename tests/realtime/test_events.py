"""The one way out for real-time frames (``chat.realtime.events``): each durable change sends
its frames from the service that makes it, once; changes made in admin or the shell are adapted
by signals, and a service's own writes are not announced twice; the edges send nothing but
typing; a socket's own reply comes before the frames its action sends. (How the fan-out takes
the frames: ``test_fanout``.)"""

import ast
import asyncio
import json
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User

from chat import services
from chat.identity import tokens
from chat.models import ApiToken, Membership
from chat.moderation.actions import user_ban
from chat.realtime import notices
from tests.sockets import joined_socket, logged_in, next_of, send

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sent_notices(monkeypatch):
    """The notices sent to every process, as they leave (on commit)."""
    sent = []
    monkeypatch.setattr(notices, "_send", lambda text: sent.append(json.loads(text)))
    return sent


def kinds(sent):
    return [notice["type"] for notice in sent]


def test_a_services_changes_are_announced_once_and_not_again_by_signals(
    make_user, make_chat, sent_notices
):
    alice, bob, carol = make_user(), make_user(), make_user()
    group = make_chat(alice, bob, name="room")
    sent_notices.clear()
    services.group_rename(chat=group, actor=alice, name="lounge")
    assert kinds(sent_notices) == ["chatChanged"]
    assert sent_notices[0]["chatName"] == "lounge"
    sent_notices.clear()
    services.group_add(chat=group, actor=alice, people=[carol])
    services.group_remove(chat=group, actor=alice, member=bob)
    assert kinds(sent_notices) == ["membershipAdded", "membershipRemoved"]
    sent_notices.clear()
    token, _ = tokens.token_create(user=alice, name="bot")
    tokens.token_revoke(user=alice, token_id=token.pk)
    assert sent_notices == [
        {"type": "sessionEnded", "session": notices.session_tag(f"token:{token.pk}")}
    ]
    sent_notices.clear()
    user_ban(carol)
    assert sent_notices == [{"type": "userChanged", "userId": str(carol.pk)}]
    sent_notices.clear()
    services.user_rename(user=bob, username="robert")
    assert sent_notices == [{"type": "userChanged", "userId": str(bob.pk), "username": "robert"}]


def test_changes_made_outside_the_services_are_adapted_by_signals(
    make_user, make_chat, sent_notices
):
    alice, bob = make_user(), make_user()
    group = make_chat(alice, bob, name="room")
    sent_notices.clear()
    group.locked = True
    group.save()  # as the admin's "lock" does
    Membership.objects.get(chat=group, user=bob).delete()  # as a shell would
    Membership.objects.create(chat=group, user=bob)
    ApiToken.objects.filter(user=alice).delete()  # none: nothing to say
    User.objects.filter(pk=bob.pk).get().save()
    assert kinds(sent_notices) == [
        "chatChanged", "membershipRemoved", "membershipAdded", "userChanged",
    ]  # fmt: skip
    assert sent_notices[0]["locked"] is True
    assert sent_notices[-1]["username"] == bob.username


def test_nothing_is_sent_for_a_change_rolled_back(make_user, make_chat, sent_notices):
    from django.db import transaction

    alice, bob = make_user(), make_user()
    group = make_chat(alice, bob, name="room")
    sent_notices.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.group_rename(chat=group, actor=alice, name="never")
        raise RuntimeError
    assert sent_notices == []


def _calls_to(module: Path) -> set[str]:
    tree = ast.parse(module.read_text())
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "events"
    }


def test_edges_send_nothing_but_typing():
    """REST views, pages and the consumer call services; only the consumer sends, and only
    what is stored nowhere (typing) or its own replies (``frame``)."""
    edges = {
        "chat/api/views.py": set(),
        "chat/views.py": set(),
        "chat/admin.py": set(),
        "chat/realtime/consumers.py": {"frame", "typing"},
    }
    assert {edge: _calls_to(ROOT / edge) for edge in edges} == edges
    for edge in edges:
        text = (ROOT / edge).read_text()
        assert "notify(" not in text and "get_fanout().send" not in text, edge


async def test_the_senders_ack_comes_before_the_message_its_send_broadcasts(alice_bob_direct):
    alice, bob, chat = alice_bob_direct
    socket, _ = await joined_socket(alice, str(chat.pk))
    others, _ = await joined_socket(bob, str(chat.pk))
    for n in range(20):
        frame = {"action": "sendMessage", "chatId": str(chat.pk), "message": f"m{n}",
                 "clientMessageId": f"k{n}"}  # fmt: skip
        reply = await send(socket, frame)
        assert reply["type"] == "ack", reply
        echoed = await next_of(socket, "message")
        assert echoed["message"]["seq"] == reply["seq"] == n + 1
        assert (await next_of(others, "message"))["message"]["seq"] == n + 1
    await socket.disconnect()
    await others.disconnect()


async def test_receipts_are_sent_by_the_service_that_records_them(alice_bob_direct):
    alice, bob, chat = alice_bob_direct
    socket, _ = await joined_socket(alice, str(chat.pk))
    others, _ = await joined_socket(bob, str(chat.pk))
    frame = {"action": "sendMessage", "chatId": str(chat.pk), "message": "hi",
             "clientMessageId": "k"}  # fmt: skip
    await send(socket, frame)
    await next_of(others, "message")
    await others.send_json_to({"action": "markRead", "chatId": str(chat.pk), "seq": 10**30})
    read = await next_of(socket, "read")
    assert (read["userId"], read["seq"]) == (str(bob.pk), 1)  # as recorded: capped
    await socket.disconnect()
    await others.disconnect()


async def test_a_renamed_users_open_sockets_send_under_the_new_name(alice_bob_direct):
    """Renaming on the Settings page (``services.user_rename``) reaches the sockets the user
    already has open: what they send from then on carries the new name."""
    alice, bob, chat = alice_bob_direct
    chat_id = str(chat.pk)
    socket, _ = await joined_socket(alice, chat_id)
    others, _ = await joined_socket(bob, chat_id)
    page = await logged_in(alice)
    renamed = await database_sync_to_async(page.post)(
        "/settings/", {"action": "rename", "username": "alicia"}
    )
    assert renamed.status_code == 302
    assert await send(socket, {"action": "ping"}) == {"type": "pong"}  # the notice is in
    frame = {"action": "sendMessage", "chatId": chat_id, "message": "hi", "clientMessageId": "k"}
    assert (await send(socket, frame))["type"] == "ack"
    assert (await next_of(others, "message"))["message"]["username"] == "alicia"
    assert (await next_of(socket, "message"))["message"]["username"] == "alicia"
    assert await send(socket, {"action": "ping"}) == {"type": "pong"}  # still open
    await socket.disconnect()
    await others.disconnect()


async def test_a_rename_whose_notice_was_lost_is_taken_up_at_the_next_heartbeat(
    alice_bob_direct, settings
):
    alice, bob, chat = alice_bob_direct
    chat_id = str(chat.pk)
    socket, _ = await joined_socket(alice, chat_id)
    others, _ = await joined_socket(bob, chat_id)
    # Renamed with no notice at all (as when Redis was unreachable, or in another process
    # without Redis).
    await database_sync_to_async(User.objects.filter(pk=alice.pk).update)(username="alicia")
    settings.CHAT_CONNECTION_TTL = 0  # every ping is a heartbeat that reads the session again
    names = []
    for _ in range(50):  # until the heartbeat's check has come back (bounded)
        await socket.send_json_to({"action": "ping"})
        await next_of(socket, "pong")  # (its own typing frames come back too)
        await socket.send_json_to({"action": "typing", "chatId": chat_id})
        names.append((await next_of(others, "typing"))["username"])
        if names[-1] == "alicia":
            break
        await asyncio.sleep(0.05)
    assert names[0] == "alice" and names[-1] == "alicia", names
    await socket.disconnect()
    await others.disconnect()


async def test_a_rename_reaches_every_open_socket_of_the_user_and_no_one_elses(
    alice_bob_direct,
):
    """A burst: the user's many sockets, and another user's, open when the name changes."""
    alice, bob, chat = alice_bob_direct
    chat_id = str(chat.pk)
    alices = [(await joined_socket(alice, chat_id))[0] for _ in range(8)]
    bobs, _ = await joined_socket(bob, chat_id)
    await database_sync_to_async(services.user_rename)(user=alice, username="alicia")
    for socket in [*alices, bobs]:
        await socket.send_json_to({"action": "ping"})
        await next_of(socket, "pong")  # the notice is in
    for socket in alices:
        await socket.send_json_to({"action": "typing", "chatId": chat_id})
    seen_by_bob = [await next_of(bobs, "typing") for _ in alices]
    assert {(f["userId"], f["username"]) for f in seen_by_bob} == {(str(alice.pk), "alicia")}
    await bobs.send_json_to({"action": "typing", "chatId": chat_id})
    frames = [await next_of(alices[0], "typing") for _ in range(len(alices) + 1)]
    assert (str(bob.pk), "bob") in {(f["userId"], f["username"]) for f in frames}
    for socket in [*alices, bobs]:
        await socket.disconnect()
