"""The relational database unreachable: every edge answers a retryable, specific error
(``database_unavailable``; REST and pages a 503 with ``Retry-After``), never a crash. The
real cut, under the production server, is in tests/live/test_database_outage.py."""

import json

import pytest
from django.db import OperationalError
from django.test import Client

from chat import selectors, services
from tests.clients import api_as
from tests.frames import send_message
from tests.sockets import joined_socket

pytestmark = pytest.mark.django_db(transaction=True)


def _cut(*args, **kwargs):
    raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")


def test_rest_and_pages_answer_503_with_retry_after(make_user, make_chat, monkeypatch):
    alice, bob = make_user(), make_user()
    chat = make_chat(alice, bob)
    monkeypatch.setattr(selectors, "chat_for_sender", _cut)
    monkeypatch.setattr(selectors, "chat_list_for_user", _cut)
    sent = api_as(alice).post(f"/api/chats/{chat.pk}/messages", {"message": "hi"}, format="json")
    assert sent.status_code == 503 and sent["Retry-After"] == "5"
    assert sent.json() == {
        "status": 503, "code": "database_unavailable", "retryable": True,
        "detail": "The database is unavailable; retry shortly.",
    }  # fmt: skip
    client = Client()
    client.force_login(alice)
    page = client.get("/")
    assert page.status_code == 503 and page["Retry-After"] == "5"
    assert "cannot reach its database" in page.content.decode()


def test_loading_the_signed_in_user_fails_as_503_too(make_user, monkeypatch):
    from django.contrib.sessions.backends.db import SessionStore

    alice = make_user()
    client = Client()
    client.force_login(alice)
    monkeypatch.setattr(SessionStore, "load", _cut)
    answer = client.get("/api/chats")
    assert (answer.status_code, answer.json()["code"]) == (503, "database_unavailable")
    assert client.get("/").status_code == 503


async def test_a_socket_send_answers_database_unavailable_and_the_socket_stays(
    alice_and_a_chat, monkeypatch
):
    alice, chat = alice_and_a_chat
    socket, _ = await joined_socket(alice, str(chat.pk))
    with monkeypatch.context() as patched:
        patched.setattr(services, "message_send", _cut)
        await socket.send_to(text_data=json.dumps(send_message(str(chat.pk), "hi", "k1")))
        failed = json.loads(await socket.receive_from(timeout=5))
    assert (failed["type"], failed["code"], failed["retryable"]) == (
        "error", "database_unavailable", True,
    )  # fmt: skip
    await socket.send_to(text_data=json.dumps(send_message(str(chat.pk), "hi", "k1")))
    assert json.loads(await socket.receive_from(timeout=5))["type"] in {"ack", "message"}
    await socket.disconnect()
