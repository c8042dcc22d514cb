"""Members edit and delete their own messages, over REST and the socket, live to every member,
in history on both store backends."""

import json
import time

import pytest
from channels.db import database_sync_to_async

from tests.clients import api_as
from tests.frames import send_message
from tests.sockets import joined_socket, send

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_edit_and_a_delete_reach_every_member_and_history(alice_bob_room, either_store):
    alice, bob, chat = alice_bob_room
    chat_id = str(chat.pk)
    a, _ = await joined_socket(alice, chat_id)
    b, _ = await joined_socket(bob, chat_id)
    ack = await send(a, send_message(chat_id, "helo", "k1"))
    for socket in (a, b):
        await socket.receive_from(timeout=5)
    edit = {"action": "editMessage", "chatId": chat_id, "messageId": ack["messageId"]}
    await a.send_to(text_data=json.dumps({**edit, "message": "hello"}))
    # The reply and the broadcast, in either order.
    frames = {f["type"]: f for f in [json.loads(await a.receive_from(timeout=2)) for _ in "ab"]}
    edited = frames["edited"]
    assert (edited["messageId"], edited["seq"]) == (ack["messageId"], 1)
    for frame in (frames["messageEdited"], json.loads(await b.receive_from(timeout=2))):
        assert frame == {
            "type": "messageEdited", "chatId": chat_id, "seq": 1, "messageId": ack["messageId"],
            "message": "hello", "editedAt": edited["editedAt"],
        }  # fmt: skip
    # Only the sender may edit or delete it.
    not_yours = await send(b, {**edit, "message": "hijacked"})
    assert (not_yours["type"], not_yours["code"]) == ("error", "not_yours")
    delete = {"action": "deleteMessage", "chatId": chat_id, "messageId": ack["messageId"]}
    assert (await send(b, delete))["code"] == "not_yours"
    history = await database_sync_to_async(
        lambda: api_as(bob).get(f"/api/chats/{chat_id}/messages").json()
    )()
    (message,) = history["messages"]
    assert (message["message"], message["edited"], message["editedAt"]) == (
        "hello", True, edited["editedAt"],
    )  # fmt: skip
    await a.send_to(text_data=json.dumps(delete))
    frames = {f["type"]: f for f in [json.loads(await a.receive_from(timeout=2)) for _ in "ab"]}
    assert frames["deleted"]["seq"] == 1
    for frame in (frames["messageDeleted"], json.loads(await b.receive_from(timeout=2))):
        assert (frame["type"], frame["messageId"]) == ("messageDeleted", ack["messageId"])
    # Deleting again changes nothing; a deleted message cannot be edited.
    assert (await send(a, delete))["type"] == "deleted"
    assert await a.receive_nothing(timeout=0.3)
    assert (await send(a, {**edit, "message": "back"}))["code"] == "no_such_message"
    history = await database_sync_to_async(
        lambda: api_as(bob).get(f"/api/chats/{chat_id}/messages").json()
    )()
    (message,) = history["messages"]
    assert (message["message"], message["deleted"], message["edited"]) == ("", True, False)
    for socket in (a, b):
        await socket.disconnect()


def test_edits_and_deletes_over_rest(alice_bob_room, either_store, settings):
    alice, bob, chat = alice_bob_room
    url = f"/api/chats/{chat.pk}/messages"
    sent = api_as(alice).post(url, {"message": "first"}, format="json").json()
    one = f"{url}/{sent['messageId']}"
    edited = api_as(alice).patch(one, {"message": "first!"}, format="json")
    assert edited.status_code == 200 and edited.json()["message"] == "first!"
    assert edited.json()["edited"] is True
    same = api_as(alice).patch(one, {"message": "first!"}, format="json")
    assert same.json()["editedAt"] == edited.json()["editedAt"]  # nothing changed
    for response, status, code in [
        (api_as(bob).patch(one, {"message": "x"}, format="json"), 403, "not_yours"),
        (api_as(alice).patch(one, {"message": "  "}, format="json"), 400, "empty_message"),
        (api_as(alice).patch(one, {"message": "x" * 4001}, format="json"), 400, "too_long"),
        (api_as(alice).patch(f"{url}/{'9' * 300}", {"message": "x"}, format="json"), 404,
         "no_such_message"),
        (api_as(bob).delete(one), 403, "not_yours"),
    ]:  # fmt: skip
        assert (response.status_code, response.json()["code"]) == (status, code)
    settings.CHAT_EDIT_WINDOW_SECONDS = 0
    time.sleep(0.01)
    late = api_as(alice).patch(one, {"message": "late"}, format="json")
    assert (late.status_code, late.json()["code"]) == (403, "too_late")
    settings.CHAT_EDIT_WINDOW_SECONDS = 3600
    gone = api_as(alice).delete(one)
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert api_as(alice).get(url).json()["messages"][0]["message"] == ""


async def test_system_notes_cannot_be_edited_or_deleted_on_rest_or_the_socket(
    alice_bob_room, either_store, make_user
):
    alice, bob, chat = alice_bob_room
    chat_id = str(chat.pk)
    renamed = await database_sync_to_async(
        lambda: api_as(alice).patch(f"/api/chats/{chat_id}", {"chatName": "Plans"}, format="json")
    )()
    assert renamed.status_code == 200
    history = await database_sync_to_async(
        lambda: api_as(alice).get(f"/api/chats/{chat_id}/messages").json()
    )()
    (note,) = history["messages"]
    assert note["kind"] == "system" and note["userId"] == str(alice.pk)
    one = f"/api/chats/{chat_id}/messages/{note['messageId']}"
    phishing = {"message": "Moderator: confirm your password at https://evil.example"}
    for response in await database_sync_to_async(
        lambda: [api_as(alice).patch(one, phishing, format="json"), api_as(alice).delete(one)]
    )():
        assert (response.status_code, response.json()["code"]) == (403, "system_message")
    a, _ = await joined_socket(alice, chat_id)
    target = {"chatId": chat_id, "messageId": note["messageId"]}
    edit = await send(a, {"action": "editMessage", **target, **phishing})
    delete = await send(a, {"action": "deleteMessage", **target})
    assert [(f["type"], f["code"]) for f in (edit, delete)] == [("error", "system_message")] * 2
    assert await a.receive_nothing(timeout=0.3)
    after = await database_sync_to_async(
        lambda: api_as(bob).get(f"/api/chats/{chat_id}/messages").json()
    )()
    assert after["messages"] == history["messages"]
    await a.disconnect()
