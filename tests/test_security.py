"""Attacks tried as a user with a normal account would try them, over the socket and REST.

Each test names the finding it guards against; the socket is driven through the full ASGI
application, REST through Django's test client. Both run on SQLite and on PostgreSQL.
"""

import base64
import json

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from chat.api import views
from chat.models import ChatRoom
from chat.stores import get_store
from chat.stores.base import InvalidCursor, decode_cursor
from tests.clients import csrf_client, find
from tests.conftest import PASSWORD
from tests.servers import procfile_web_command
from tests.sockets import open_socket, send

pytestmark = pytest.mark.django_db(transaction=True)


# -- The socket's Origin: scheme, host and port, as CSRF compares them --------------------------


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "allowed"),
    [
        (b"http://localhost", b"localhost", "ws", True),
        (b"http://localhost:8000", b"localhost:8000", "ws", True),
        (b"HTTP://LocalHost", b"localhost", "ws", True),  # the same origin, spelled in capitals
        (b"https://localhost", b"localhost", "wss", True),
        # Another port or scheme of the same host is another site.
        (b"http://localhost:1234", b"localhost", "ws", False),
        (b"http://localhost", b"localhost:8000", "ws", False),
        (b"https://localhost", b"localhost", "ws", False),
        (b"http://localhost", b"localhost", "wss", False),
        # Other hosts, look-alikes, and no usable Origin at all.
        (b"http://evil.example", b"localhost", "ws", False),
        (b"http://localhost.evil.example", b"localhost", "ws", False),
        (b"http://evil.example", b"evil.example", "ws", False),  # a Host not allowed
        (b"null", b"localhost", "ws", False),
        (b"", b"localhost", "ws", False),
        (b"http://localhost", b"", "ws", False),
        (b"http://[::1", b"localhost", "ws", False),
    ],
)
async def test_socket_origin_must_be_this_site(make_user, origin, host, scheme, allowed):
    user = await database_sync_to_async(make_user)()
    socket, connected = await open_socket(user, origin=origin, host=host, scheme=scheme)
    assert connected is allowed
    if connected:
        assert await send(socket, {"action": "ping"}) == {"type": "pong"}
        await socket.disconnect()


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (b"https://app.example.com", True),
        (b"https://chat.example.org", True),
        (b"https://deep.chat.example.org", True),
        (b"http://chat.example.org", False),
        (b"https://example.org.evil.example", False),
        (b"https://app.example.com:444", False),
    ],
)
async def test_socket_origin_may_be_a_trusted_one(make_user, settings, origin, allowed):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com", "https://*.example.org"]
    user = await database_sync_to_async(make_user)()
    socket, connected = await open_socket(user, origin=origin, host=b"localhost", scheme="wss")
    assert connected is allowed
    if connected:
        await socket.disconnect()


# -- Frames are limited by the server before they are in memory ----------------------------------


def test_the_production_command_bounds_frames_by_the_protocols_limit(settings):
    command = procfile_web_command()
    max_bytes = int(command[command.index("--ws-max-size") + 1])
    # A frame of CHAT_FRAME_MAX_LENGTH characters is at most 4 bytes a character in UTF-8; the
    # server refuses anything longer than that before buffering it (uvicorn's default: 16 MiB).
    assert 4 * settings.CHAT_FRAME_MAX_LENGTH <= max_bytes <= 1 << 16
    # Compressed frames would inflate past the limit's purpose (and cost CPU per socket).
    assert command[command.index("--ws-per-message-deflate") + 1] == "false"


# -- REST: crafted input is a 4xx in the API's JSON shape, and nothing is stored -----------------


def _error(response, status, code=None):
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert body["status"] == status and isinstance(body["detail"], str)
    if code:
        assert body["code"] == code, body
    return body


def test_deeply_nested_or_oversized_json_bodies_are_refused(make_user):
    alice = make_user()
    client = csrf_client(alice)
    nested = "[" * 20_000 + "]" * 20_000  # deeper than Python's parser follows
    _error(client.post("/api/chats", nested, content_type="application/json"), 400, "parse_error")
    big = json.dumps({"chatType": "group", "participants": ["1"], "chatName": "x" * 70_000})
    _error(client.post("/api/chats", big, content_type="application/json"), 413, "too_large")
    _error(client.post("/api/chats", "[NaN]", content_type="application/json"), 400, "parse_error")
    assert not ChatRoom.objects.exists()


@pytest.mark.parametrize(
    "participants",
    [["²"], ["\u0661"], ["1.0"], ["-1"], ["1 2"], ["9" * 40], [{"id": 1}], ["1"] * 1001],
)
def test_participants_must_be_user_ids(make_user, participants):
    alice = make_user()
    body = {"chatType": "group", "participants": participants, "chatName": "g"}
    _error(csrf_client(alice).post("/api/chats", body, format="json"), 400)
    assert not ChatRoom.objects.exists()


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "x\udfff"])
def test_unstorable_text_is_refused_in_every_text_field(make_user, make_chat, text):
    alice, bob = make_user(), make_user()
    client = csrf_client(alice)
    bob_id = find(client, bob)
    for body in (
        {"chatType": "group", "participants": [bob_id], "chatName": text},
        {"chatType": "group", "participants": [bob_id, text], "chatName": "g"},
    ):
        _error(client.post("/api/chats", json.dumps(body), content_type="application/json"), 400)
    chat = make_chat(alice, bob)
    url = f"/api/chats/{chat.pk}/messages"
    for body in ({"message": text}, {"message": "hi", "clientMessageId": text}):
        _error(client.post(url, json.dumps(body), content_type="application/json"), 400)
    assert get_store().last_seq(str(chat.pk)) == 0
    assert ChatRoom.objects.count() == 1


def test_staff_listing_another_users_chats_needs_a_user_id(make_user):
    staff = make_user(is_staff=True)
    client = csrf_client(staff)
    for user_id in ("abc", "²", "1 2", "9" * 40, "\x00"):
        _error(client.get("/api/chats", {"userId": user_id}), 400)
    assert client.get("/api/chats", {"userId": "999999"}).json() == {
        "chats": [],
        "nextCursor": None,
    }


def test_crafted_history_cursors_are_invalid_not_a_crash(make_user, make_chat):
    alice, bob = make_user(), make_user()
    chat = make_chat(alice, bob)
    url = f"/api/chats/{chat.pk}/messages"
    client = csrf_client(alice)
    nested = base64.urlsafe_b64encode(b"[" * 150 + b"]" * 150).decode()
    for cursor in (nested, "!!!", "e30", base64.urlsafe_b64encode(b'{"before": "1"}').decode()):
        _error(client.get(url, {"cursor": cursor}), 400, "invalid_cursor")
    # Cursors are short: one long enough to nest past Python's parser is refused unread.
    _error(client.get(url, {"cursor": "W" * 2000}), 400)
    with pytest.raises(InvalidCursor):
        decode_cursor(base64.urlsafe_b64encode(b"[" * 100_000).decode())


def test_nul_in_a_query_or_form_is_a_400_everywhere(make_user, settings):
    settings.DEBUG = False  # Django's own error answers, not the debug page
    staff = make_user(is_staff=True, is_superuser=True)
    client = csrf_client(staff)
    _error(client.get("/api/chats", {"x": "\x00"}), 400, "bad_request")
    for url in ("/admin/chat/chatroom/?q=%00", "/admin/auth/user/?is_staff__exact=%00", "/?a=%00"):
        assert client.get(url).status_code == 400, url


def test_unknown_and_failed_api_urls_answer_json(make_user, settings):
    settings.DEBUG = False
    client = csrf_client(make_user())
    _error(client.get("/api/no-such-thing"), 404, "not_found")
    # A form-encoded body over Django's limit fails before any view: still JSON under /api/.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post(
        "/api/chats", "a=" + "x" * 5000, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code in {400, 413, 415} and response["Content-Type"].startswith(
        "application/json"
    )


# -- REST budgets: per user, with their own rates for sending, creating chats, lookups -----------


def test_sending_over_rest_has_a_per_user_budget(make_user, make_chat, monkeypatch):
    monkeypatch.setattr(views.SendThrottle, "rate", "3/min", raising=False)
    alice, bob = make_user(), make_user()
    chat = make_chat(alice, bob)
    url = f"/api/chats/{chat.pk}/messages"
    client = csrf_client(alice)
    for n in range(3):
        assert client.post(url, {"message": f"m{n}"}, format="json").status_code == 201
    refused = client.post(url, {"message": "one too many"}, format="json")
    body = _error(refused, 429, "throttled")
    assert body["retryable"] is True and int(refused["Retry-After"]) > 0
    assert get_store().last_seq(str(chat.pk)) == 3
    # Reading is not sending, and the budget is the sender's, not the chat's.
    assert client.get(url).status_code == 200
    assert csrf_client(bob).post(url, {"message": "bob"}, format="json").status_code == 201


def test_creating_chats_and_looking_up_users_have_per_user_budgets(make_user, monkeypatch):
    monkeypatch.setattr(views.CreateChatThrottle, "rate", "2/hour", raising=False)
    monkeypatch.setattr(views.LookupThrottle, "rate", "2/hour", raising=False)
    alice, victim = make_user(), make_user()
    client = csrf_client(alice)
    body = {"chatType": "group", "participants": [find(client, victim)], "chatName": "g"}
    assert [client.post("/api/chats", body, format="json").status_code for _ in range(3)] == [
        201,
        201,
        429,
    ]
    assert ChatRoom.objects.count() == 2
    lookups = [client.get("/api/users", {"username": victim.username}) for _ in range(2)]
    assert [r.status_code for r in lookups] == [200, 429]  # one was spent finding the victim


# -- Account pages: sign-up budgets, no password reset without mail ---------------------------


def test_sign_ups_from_one_address_are_limited(settings, django_user_model):
    settings.CHAT_SIGNUPS_PER_ADDRESS = 2
    for n in range(3):
        client = Client()
        page = client.post(
            "/accounts/signup/",
            {"username": f"new{n}", "password1": PASSWORD, "password2": PASSWORD},
        )
        assert page.status_code == (302 if n < 2 else 200)
    assert "Too many sign-ups" in page.content.decode()
    assert sorted(django_user_model.objects.values_list("username", flat=True)) == [
        "new0",
        "new1",
    ]


def test_password_reset_is_not_offered_without_mail(client):
    for url in ("/accounts/password_reset/", "/accounts/reset/x/y/"):
        assert client.get(url).status_code == 404


# -- Headers: a Content-Security-Policy without inline script on every page ----------------------


def test_every_page_sends_a_strict_content_security_policy(make_user, make_chat):
    alice, bob = make_user(), make_user(is_staff=True, is_superuser=True)
    chat = make_chat(alice, bob)
    anonymous, member, staff = Client(), Client(), Client()
    member.force_login(alice)
    staff.force_login(bob)
    pages = [
        (anonymous, "/accounts/login/"),
        (anonymous, "/accounts/signup/"),
        (member, "/"),
        (member, f"/chats/{chat.pk}/"),
        (member, "/api/chats"),
        (staff, "/admin/"),
        (staff, "/admin/chat/chatroom/"),
    ]
    for client, url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        policy = dict(
            d.strip().split(" ", 1) for d in response["Content-Security-Policy"].split(";")
        )
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'", url
        assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'", url
        assert "camera=()" in response["Permissions-Policy"], url


# -- Socket budgets: per user, whatever the number of sockets ------------------------------------


async def test_a_users_sockets_share_one_frame_budget(make_user, settings):
    settings.CHAT_RATE_BURST = 4
    settings.CHAT_RATE_PER_SECOND = 0.01
    alice, bob = (
        await database_sync_to_async(make_user)(),
        await database_sync_to_async(make_user)(),
    )
    sockets = [(await open_socket(alice))[0] for _ in range(3)]
    replies = [await send(sockets[n % 3], {"action": "ping"}) for n in range(6)]
    assert [r["type"] for r in replies] == ["pong"] * 4 + ["error"] * 2
    assert replies[-1]["code"] == "rate_limited"
    # Closing and reopening sockets does not refill it; another user's budget is their own.
    for socket in sockets:
        await socket.disconnect()
    again, _ = await open_socket(alice)
    assert (await send(again, {"action": "ping"}))["code"] == "rate_limited"
    other, _ = await open_socket(bob)
    assert await send(other, {"action": "ping"}) == {"type": "pong"}
    await again.disconnect()
    await other.disconnect()


async def test_a_user_may_open_only_so_many_sockets(make_user, settings):
    settings.CHAT_SOCKETS_PER_USER = 2
    alice = await database_sync_to_async(make_user)()
    first, second = (await open_socket(alice))[0], (await open_socket(alice))[0]
    third, connected = await open_socket(alice)
    assert connected  # accepted, then closed with a code saying why
    assert (await third.receive_output(timeout=2)) == {"type": "websocket.close", "code": 4429}
    # A closed socket frees its place.
    await first.disconnect()
    fourth, _ = await open_socket(alice)
    assert await send(fourth, {"action": "ping"}) == {"type": "pong"}
    for socket in (second, fourth):
        await socket.disconnect()


async def test_a_socket_may_join_only_so_many_chats(make_user, make_chat, settings):
    settings.CHAT_SOCKET_MAX_CHATS = 2
    alice, bob = (
        await database_sync_to_async(make_user)(),
        await database_sync_to_async(make_user)(),
    )
    chats = [await database_sync_to_async(make_chat)(alice, bob, name=f"g{n}") for n in range(3)]
    socket, _ = await open_socket(alice)
    for chat in chats[:2]:
        assert (await send(socket, {"action": "joinChat", "chatId": str(chat.pk)}))["type"] == (
            "joined"
        )
    refused = await send(socket, {"action": "joinChat", "chatId": str(chats[2].pk)})
    assert (refused["type"], refused["code"]) == ("error", "too_many_chats")
    # Joining one already joined is not another chat; leaving one makes room.
    again = await send(socket, {"action": "joinChat", "chatId": str(chats[0].pk)})
    assert again["type"] == "joined"
    await send(socket, {"action": "leaveChat", "chatId": str(chats[0].pk)})
    assert (await send(socket, {"action": "joinChat", "chatId": str(chats[2].pk)}))["type"] == (
        "joined"
    )
    await socket.disconnect()


# -- Usernames people cannot mistake for each other ----------------------------------------------


def _sign_up(username):
    return Client().post(
        "/accounts/signup/", {"username": username, "password1": PASSWORD, "password2": PASSWORD}
    )


@pytest.mark.parametrize(
    ("username", "why"),
    [
        ("Alice", "already exists"),  # another case
        ("\uff41\uff4c\uff49\uff43\uff45", "already exists"),  # fullwidth, NFKC-normalized
        ("\u0430lice", "one alphabet"),  # a Cyrillic a among Latin letters
        ("\u0430\u0441\u0435", "looks like one already taken"),  # all Cyrillic, drawn "ace"
        ("\u03b1\u03bf\u03c1", "looks like one already taken"),  # all Greek, drawn "aop"
        # Latin look-alikes, by Unicode's confusables (UTS #39 skeletons)
        ("aIice", "looks like one already taken"),  # a capital i for an l
        ("a1ice", "looks like one already taken"),
        ("rnallory", "looks like one already taken"),  # r n for m
        ("b0b", "looks like one already taken"),  # a zero for an o
        ("dav\u00e9", "looks like one already taken"),  # an accent more
        ("BOB", "already exists"),
        ("ALlCE", "looks like one already taken"),  # in capitals, an l for an I
    ],
)
def test_look_alike_usernames_are_refused(make_user, django_user_model, username, why):
    for name in ("alice", "ace", "aop", "mallory", "bob", "dave"):
        make_user(name)
    page = _sign_up(username)
    assert page.status_code == 200 and why in page.content.decode()
    assert django_user_model.objects.count() == 6


def test_a_name_whose_skeleton_is_far_longer_signs_up(django_user_model):
    name = "\uaf26" * 150  # its skeleton is seven times as long
    assert _sign_up(name).status_code == 302
    assert django_user_model.objects.filter(username=name).exists()


def test_a_renamed_account_s_look_is_what_new_names_are_checked_against(make_user):
    user = make_user("alice")
    user.username = "mallory"
    user.save()
    assert "looks like one already taken" in _sign_up("rnallory").content.decode()
    assert _sign_up("alice").status_code == 302


def test_names_in_one_alphabet_are_welcome(make_user, django_user_model):
    make_user("alice")
    for username in ("\u0430\u043b\u0438\u0441\u0430", "\u30a2\u30ea\u30b9", "alice2"):
        assert _sign_up(username).status_code == 302, username
    assert django_user_model.objects.count() == 4


# -- The chat list comes in pages: being added to hundreds of chats cannot swell one answer -------


def test_the_chat_list_is_paginated_without_overlap_or_gaps(make_user, make_chat):
    alice, bob = make_user(), make_user()
    made = [str(make_chat(alice, bob, name=f"g{n}").pk) for n in range(5)]
    client = csrf_client(alice)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/chats", params).json()
        seen += [chat["chatId"] for chat in page["chats"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 3 and sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    assert seen == list(reversed(made))  # most recently active (here: created) first
    for bad in ("nope", "e30", base64.urlsafe_b64encode(b'{"activity": 1, "chat": 2}').decode()):
        _error(client.get("/api/chats", {"cursor": bad}), 400, "invalid_cursor")
    _error(client.get("/api/chats", {"limit": 201}), 400)
