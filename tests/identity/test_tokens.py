"""Personal API tokens: made, listed and revoked over the API, the settings page and the admin;
bearers on REST and the socket, and every way one is refused."""

import hashlib
import json
import logging

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from chat.models import ApiToken
from chat.ops.logs import ContextFilter, Formatter
from chatsite.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def bearer_client(secret: str) -> APIClient:
    """A program's client: no cookie, CSRF enforced (it must not be needed)."""
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def make_token(api, name="bot") -> dict:
    response = api.post("/api/tokens", {"name": name}, format="json", HTTP_X_CSRFTOKEN=_csrf(api))
    assert response.status_code == 201, response.content
    return response.json()


def _csrf(api) -> str:
    api.get("/settings/")  # sets the CSRF cookie
    return api.cookies["csrftoken"].value


def test_a_token_is_made_shown_once_and_stored_as_a_digest(api):
    made = make_token(api, "  my   bot ")
    assert set(made) == {"id", "name", "token", "createdAt"}
    assert made["name"] == "my bot"
    assert made["token"].startswith("chat_") and len(made["token"]) > 40
    row = ApiToken.objects.get(pk=made["id"])
    assert row.digest == hashlib.sha256(made["token"].encode()).hexdigest()
    assert made["token"] not in json.dumps(list(ApiToken.objects.values()), default=str)
    listed = api.get("/api/tokens").json()["tokens"]
    assert listed == [
        {"id": made["id"], "name": "my bot", "createdAt": made["createdAt"], "lastUsedAt": None}
    ]


def test_a_bearer_needs_no_cookie_and_no_csrf_token(api, make_user, make_chat):
    made = make_token(api)
    program = bearer_client(made["token"])
    me = program.get("/api/me")
    assert me.status_code == 200 and me.json()["userId"] == str(api.user.pk)
    other = make_user()
    make_chat(api.user, other)
    created = program.post(
        "/api/chats", {"chatType": "direct", "participants": [str(other.pk)]}, format="json"
    )
    assert created.status_code == 200, created.content  # the pair's chat, found again
    group = program.post(
        "/api/chats",
        {"chatType": "group", "chatName": "ops", "participants": [str(other.pk)]},
        format="json",
    )
    assert group.status_code == 201, group.content
    chat_id = created.json()["chatId"]
    sent = program.post(f"/api/chats/{chat_id}/messages", {"message": "from a bot"}, format="json")
    assert sent.status_code == 201, sent.content
    assert api.get("/api/tokens").json()["tokens"][0]["lastUsedAt"] is not None


@pytest.mark.parametrize(
    "header, error",
    [
        ("Bearer chat_not-a-token-of-anyone", "invalid_token"),
        ("Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "invalid_token"),
        ("Basic YWxpY2U6cGFzc3dvcmQ=", "invalid_request"),
        ("Bearer", "invalid_request"),
        ("Bearer two words", "invalid_request"),
    ],
)
def test_a_bad_bearer_is_a_401_with_a_challenge(header, error):
    response = APIClient().get("/api/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["status"] == 401
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="chat"') and f'error="{error}"' in challenge


@pytest.mark.parametrize("parameter", ["access_token", "token"])
def test_a_token_in_the_query_string_is_never_accepted(api, parameter):
    made = make_token(api)
    response = APIClient().get(f"/api/me?{parameter}={made['token']}")
    assert response.status_code == 401
    assert "not accepted in the URL" in response.json()["detail"]
    # Not even beside a valid header.
    response = bearer_client(made["token"]).get(f"/api/me?{parameter}={made['token']}")
    assert response.status_code == 401


def test_a_revoked_token_is_refused_at_once(api, make_user):
    made = make_token(api)
    program = bearer_client(made["token"])
    assert program.get("/api/me").status_code == 200
    assert api.delete(f"/api/tokens/{made['id']}", HTTP_X_CSRFTOKEN=_csrf(api)).status_code == 204
    refused = program.get("/api/me")
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert api.get("/api/tokens").json()["tokens"] == []


def test_only_the_owner_revokes_a_token(api, make_user):
    made = make_token(api)
    stranger = APIClient()
    stranger.force_login(make_user())
    assert stranger.delete(f"/api/tokens/{made['id']}").status_code == 404
    assert stranger.delete("/api/tokens/not-a-uuid").status_code == 404
    assert bearer_client(made["token"]).get("/api/me").status_code == 200


def test_a_deactivated_users_tokens_stop_working(api):
    made = make_token(api)
    api.user.is_active = False
    api.user.save()
    assert bearer_client(made["token"]).get("/api/me").status_code == 401


def test_names_and_the_per_user_limit(api, settings):
    settings.CHAT_API_TOKENS_PER_USER = 2
    csrf = _csrf(api)
    for name, code in [("", 400), ("a\u202eb", 400), ("x" * 101, 400), ({"a": 1}, 400)]:
        response = api.post("/api/tokens", {"name": name}, format="json", HTTP_X_CSRFTOKEN=csrf)
        assert response.status_code == code, name
    make_token(api, "one")
    make_token(api, "two")
    third = api.post("/api/tokens", {"name": "three"}, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert third.status_code == 400 and third.json()["code"] == "too_many_tokens"


@pytest.fixture
def two_tokens_an_hour(settings):
    """The token-creation budget (CHAT_API_CREATE_TOKEN_RATE) set to 2 an hour."""
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "create_token": "2/hour"},
    }
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    yield
    api_settings.reload()
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


def test_a_token_cannot_make_tokens_without_limit(api, two_tokens_an_hour):
    # The per-user budget of token creation applies to bearers too.
    program = bearer_client(make_token(api)["token"])
    codes = [program.post("/api/tokens", {"name": "n"}, format="json").status_code
             for _ in range(3)]  # fmt: skip
    assert codes[-1] == 429


def test_tokens_never_reach_the_logs(api, caplog):
    made = make_token(api)
    with caplog.at_level(logging.DEBUG):
        bearer_client(made["token"]).get("/api/me")
        bearer_client(made["token"] + "x").get("/api/me")
        APIClient().get(f"/api/me?access_token={made['token']}")
    # As the production handler writes them: its filter, then JSON lines.
    context, json_lines = ContextFilter(), Formatter()
    text = "\n".join(json_lines.format(r) for r in caplog.records if context.filter(r))
    assert made["token"] not in text
    assert "revoked or never existed" in text  # the refusal is logged, by its reason


# --- the settings page ---


def test_the_settings_page_makes_lists_and_revokes_tokens(make_user):
    user = make_user()
    page = Client(enforce_csrf_checks=False)
    page.force_login(user)
    made = page.post("/settings/", {"action": "token", "name": "laptop script"})
    assert made.status_code == 200 and made["Cache-Control"] == "no-store"
    secret = made.context["new_secret"]
    assert secret.startswith("chat_") and secret in made.content.decode()
    again = page.get("/settings/").content.decode()
    assert "laptop script" in again and secret not in again  # shown once
    token = ApiToken.objects.get(user=user)
    assert bearer_client(secret).get("/api/me").status_code == 200
    assert page.post("/settings/", {"action": "revoke", "id": str(token.pk)}).status_code == 302
    assert bearer_client(secret).get("/api/me").status_code == 401


def test_the_settings_page_needs_its_csrf_token(make_user):
    page = Client(enforce_csrf_checks=True)
    page.force_login(make_user())
    assert page.post("/settings/", {"action": "token", "name": "x"}).status_code == 403


def test_a_user_renames_themselves_under_the_sign_up_rules(make_user):
    make_user("alice")
    user = make_user("user-1a2b3c4d")
    page = Client()
    page.force_login(user)
    for taken in ["alice", "ALICE", "aIice", "bad name!"]:
        response = page.post("/settings/", {"action": "rename", "username": taken})
        assert response.status_code == 400, taken
    assert page.post("/settings/", {"action": "rename", "username": "carol"}).status_code == 302
    user.refresh_from_db()
    assert user.username == "carol"


# --- the admin: bot accounts ---


def test_staff_make_a_bot_account_and_its_token_in_the_admin(make_user):
    staff = get_user_model().objects.create_superuser("root", password="x-long-password-1")
    admin = Client()
    admin.force_login(staff)
    added = admin.post(
        "/admin/auth/user/add/",
        {"username": "weatherbot", "usable_password": "false", "password1": "", "password2": ""},
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    bot = get_user_model().objects.get(username="weatherbot")
    assert not bot.has_usable_password()
    made = admin.post("/admin/chat/apitoken/add/", {"user": bot.pk, "name": "weather feed"})
    assert made.status_code == 200 and "no-store" in made["Cache-Control"]
    secret = made.context["secret"]
    assert secret in made.content.decode()
    me = bearer_client(secret).get("/api/me").json()
    assert me["username"] == "weatherbot"
    token = ApiToken.objects.get(user=bot)
    assert secret not in admin.get(f"/admin/chat/apitoken/{token.pk}/change/").content.decode()
    # Revoking is deleting.
    admin.post(f"/admin/chat/apitoken/{token.pk}/delete/", {"post": "yes"})
    assert bearer_client(secret).get("/api/me").status_code == 401


# --- the socket ---


async def bearer_socket(secret=None, *, header=None, path="/ws/", origin=None):
    headers = [(b"host", b"localhost")]
    if origin:
        headers.append((b"origin", origin))
    if secret or header:
        headers.append((b"authorization", (header or f"Bearer {secret}").encode()))
    socket = WebsocketCommunicator(application, path, headers=headers)
    return socket, await socket.connect()


async def frame(socket, data):
    await socket.send_to(text_data=json.dumps(data))
    return json.loads(await socket.receive_from(timeout=5))


@database_sync_to_async
def _token_for(user, name="bot"):
    from chat.identity.tokens import token_create

    return token_create(user=user, name=name)


async def test_a_program_opens_the_socket_with_a_bearer_and_no_origin(make_user, make_chat):
    alice, bob = (
        await database_sync_to_async(make_user)(),
        await database_sync_to_async(make_user)(),
    )
    chat = await database_sync_to_async(make_chat)(alice, bob)
    _, secret = await _token_for(alice)
    socket, (connected, _) = await bearer_socket(secret)
    assert connected
    assert (await frame(socket, {"action": "joinChat", "chatId": str(chat.pk)}))["type"] == "joined"
    ack = await frame(
        socket, {"action": "sendMessage", "chatId": str(chat.pk), "message": "hi",
                 "clientMessageId": "c1"},
    )  # fmt: skip
    assert ack["type"] in {"ack", "message"}
    await socket.disconnect()


async def test_a_bearer_from_another_site_still_needs_to_be_valid(make_user):
    # A bearer skips the Origin check (no browser can send the header); a bad one is refused.
    socket, (connected, _) = await bearer_socket(
        header="Bearer chat_forged", origin=b"https://evil.example"
    )
    assert connected  # accepted only to say why: this test server cannot answer 401
    closed = await socket.receive_output(timeout=5)
    assert closed == {
        "type": "websocket.close",
        "code": 4401,
        "reason": "the token was revoked or never existed",
    }


async def test_a_refused_bearer_gets_a_401_where_the_server_can_send_one():
    scope = {
        "type": "websocket", "path": "/ws/", "query_string": b"", "scheme": "ws",
        "headers": [(b"host", b"localhost"), (b"authorization", b"Bearer chat_forged")],
        "extensions": {"websocket.http.response": {}}, "subprotocols": [],
    }  # fmt: skip
    app = ApplicationCommunicator(application, scope)
    await app.send_input({"type": "websocket.connect"})
    start = await app.receive_output(timeout=5)
    body = await app.receive_output(timeout=5)
    assert start["type"] == "websocket.http.response.start" and start["status"] == 401
    headers = dict(start["headers"])
    assert headers[b"www-authenticate"].startswith(b'Bearer realm="chat", error="invalid_token"')
    assert json.loads(body["body"])["status"] == 401


async def test_a_token_in_the_sockets_query_string_is_refused(make_user):
    user = await database_sync_to_async(make_user)()
    _, secret = await _token_for(user)
    socket, (connected, _) = await bearer_socket(path=f"/ws/?access_token={secret}")
    if connected:
        assert (await socket.receive_output(timeout=5))["code"] == 4401


async def test_revoking_a_token_closes_its_sockets_and_only_them(make_user):
    user = await database_sync_to_async(make_user)()
    revoked, secret = await _token_for(user, "old")
    _, other_secret = await _token_for(user, "kept")
    socket, (connected, _) = await bearer_socket(secret)
    other, (other_connected, _) = await bearer_socket(other_secret)
    assert connected and other_connected
    client = APIClient()
    await database_sync_to_async(client.force_login)(user)
    response = await database_sync_to_async(client.delete)(f"/api/tokens/{revoked.pk}")
    assert response.status_code == 204
    closed = await socket.receive_output(timeout=5)
    assert closed["type"] == "websocket.close" and closed["code"] == 4401
    assert await other.receive_nothing(timeout=0.5)
    await other.disconnect()
    # And a new handshake with it is refused.
    again, (connected, _) = await bearer_socket(secret)
    assert (await again.receive_output(timeout=5))["code"] == 4401


async def test_a_browser_without_a_bearer_still_needs_its_origin(make_user):
    _, (connected, _) = await bearer_socket(origin=b"https://evil.example")
    assert not connected


# --- what a review found ---


def test_only_superusers_make_tokens_in_the_admin(make_user):
    from django.contrib.auth.models import Permission

    staff = make_user("ops", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__endswith="_apitoken"))
    admin = Client()
    admin.force_login(staff)
    root = get_user_model().objects.create_superuser("root", password="x-long-password-1")
    response = admin.post("/admin/chat/apitoken/add/", {"user": root.pk, "name": "mine now"})
    assert response.status_code == 403
    assert not ApiToken.objects.exists()


def test_the_settings_page_spends_the_token_budget_too(make_user, two_tokens_an_hour):
    page = Client()
    page.force_login(make_user())
    codes = [page.post("/settings/", {"action": "token", "name": f"t{n}"}).status_code
             for n in range(3)]  # fmt: skip
    assert codes == [200, 200, 429]


def test_revoking_a_token_that_is_not_yours_says_so(make_user):
    page = Client()
    page.force_login(make_user())
    answer = page.post("/settings/", {"action": "revoke", "id": "nonsense"}, follow=True)
    assert "not (or no longer) one of yours" in answer.content.decode()


def test_a_deactivated_owner_is_told_so(api):
    made = make_token(api)
    api.user.is_active = False
    api.user.save()
    refused = bearer_client(made["token"]).get("/api/me")
    assert refused.status_code == 401 and "deactivated" in refused.json()["detail"]


@pytest.mark.parametrize("query", ["Token=x", "access_token[]=x", "ACCESS_TOKEN=x"])
def test_query_token_names_in_any_case_are_refused(query):
    response = APIClient().get(f"/api/me?{query}")
    assert response.status_code == 401 and "not accepted in the URL" in response.json()["detail"]


async def test_two_authorization_headers_on_a_socket_are_refused(make_user):
    user = await database_sync_to_async(make_user)()
    _, secret = await _token_for(user)
    headers = [(b"host", b"localhost"), (b"authorization", b"Bearer chat_forged"),
               (b"authorization", f"Bearer {secret}".encode())]  # fmt: skip
    socket = WebsocketCommunicator(application, "/ws/", headers=headers)
    connected, _ = await socket.connect()
    assert connected and (await socket.receive_output(timeout=5))["code"] == 4401


async def test_a_query_token_without_origin_is_told_why():
    socket, (connected, _) = await bearer_socket(path="/ws/?token=chat_x")
    assert connected  # (this test server cannot answer 401: accepted only to close with 4401)
    closed = await socket.receive_output(timeout=5)
    assert closed["code"] == 4401 and "URL" in closed["reason"]


def test_uvicorn_socket_lines_lose_their_query_string():
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" 403',
        ("127.0.0.1:5000", "/ws/?access_token=chat_secret"), None,
    )  # fmt: skip
    assert ContextFilter().filter(record)
    line = Formatter().format(record)
    assert "chat_secret" not in line and "WebSocket /ws/" in line


async def test_a_burst_of_bearer_sockets_keeps_the_user_s_limit_and_all_close_on_revoke(
    make_user, settings
):
    import asyncio

    settings.CHAT_SOCKETS_PER_USER = 5
    user = await database_sync_to_async(make_user)()
    token, secret = await _token_for(user)
    opened = await asyncio.gather(*(bearer_socket(secret) for _ in range(8)))
    assert all(connected for _, (connected, _) in opened)  # accepted, then counted
    still_open, refused = [], []
    for socket, _ in opened:
        if await socket.receive_nothing(timeout=0.3):
            still_open.append(socket)
        else:
            refused.append((await socket.receive_output(timeout=5))["code"])
    assert refused == [4429] * 3 and len(still_open) == 5  # as for a browser's sockets
    # Revoked (here as the admin does it): every socket the token opened closes.
    await database_sync_to_async(ApiToken.objects.filter(pk=token.pk).delete)()
    closed = [await socket.receive_output(timeout=5) for socket in still_open]
    assert [c["code"] for c in closed] == [4401] * 5


@pytest.mark.parametrize("spell", [str.upper, lambda i: i.replace("-", ""), lambda i: f"{{{i}}}"])
def test_odd_spellings_of_a_token_id_name_the_same_token_and_only_the_owner_s(
    api, make_user, spell
):
    made = make_token(api)
    stranger = APIClient()
    stranger.force_login(make_user())
    assert stranger.delete(f"/api/tokens/{spell(made['id'])}").status_code == 404
    assert bearer_client(made["token"]).get("/api/me").status_code == 200
    csrf = _csrf(api)
    assert api.delete(f"/api/tokens/{spell(made['id'])}", HTTP_X_CSRFTOKEN=csrf).status_code == 204
    assert bearer_client(made["token"]).get("/api/me").status_code == 401


def test_a_name_refused_by_the_service_is_not_shown_as_the_users(make_user, monkeypatch):
    """The page's form changes nothing itself: a name the service refuses (taken between the
    form's check and the save) leaves the page signed in under the real name."""
    from chat import errors, services

    def taken_meanwhile(*, user, username):
        raise errors.InvalidInput("A user with that username already exists.")

    monkeypatch.setattr(services, "user_rename", taken_meanwhile)
    page = Client()
    page.force_login(make_user("carol"))
    response = page.post("/settings/", {"action": "rename", "username": "zed"})
    assert response.status_code == 400
    assert b"Signed in as </span><strong>carol</strong>" in response.content
    assert b"already exists" in response.content
