"""Signing in with an OpenID Connect provider: a real one (tests/oidc_provider.py, Authlib) in
its own process on loopback, this app in-process. The code flow with state, nonce and PKCE;
every way an answer is refused; accounts linked by issuer and subject only; names under the
sign-up rules; re-validation; log-out at the provider; its access tokens as bearers."""

import json
import os
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from chat.identity import provider as provider_module
from chat.identity import signin
from chat.models import ProviderIdentity
from chatsite.asgi import application
from tests.servers import OidcProvider

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_ID, CLIENT_SECRET = "chat-app", "s3cret-of-the-app-client"


@pytest.fixture(scope="module")
def idp(tmp_path_factory):
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    server = OidcProvider(
        dict(os.environ), log, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
        redirect_uris=["http://testserver/accounts/oidc/callback/"],
        logout_uris=["http://testserver/accounts/login/"],
    ).start()  # fmt: skip
    yield server
    server.stop()


@pytest.fixture
def oidc(idp, settings):
    settings.CHAT_OIDC_ISSUER = idp.url
    settings.CHAT_OIDC_CLIENT_ID = CLIENT_ID
    settings.CHAT_OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.CHAT_OIDC_NAME = "Test Provider"
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, signin.BACKEND]
    return idp


_subjects = iter(range(1, 10**6))


def provider_user(idp, username, **fields) -> str:
    sub = f"sub-{next(_subjects)}-{time.time_ns()}"
    idp.test("users", {"sub": sub, "username": username, **fields})
    return sub


def start(browser: Client, **query) -> str:
    """The app's "Sign in with …": the provider's authorization URL it redirects to."""
    response = browser.get("/accounts/oidc/authenticate/", query)
    assert response.status_code == 302
    return response["Location"]


def at_provider(authorize_url: str, username: str) -> str:
    """The user signs in at the provider; the callback URL it sends the browser back to."""
    response = httpx.post(authorize_url, data={"username": username}, timeout=10)
    assert response.status_code == 302, response.text
    callback = urlsplit(response.headers["location"])
    assert callback.netloc == "testserver"
    return f"{callback.path}?{callback.query}"


def sign_in(browser: Client, idp, username: str):
    return browser.get(at_provider(start(browser), username))


def whoami(browser: Client):
    response = browser.get("/api/me")
    return response.json() if response.status_code == 200 else None


def test_the_log_in_page_offers_the_provider_and_hides_local_sign_up_when_told(oidc, settings):
    page = Client().get("/accounts/login/").content.decode()
    assert "Sign in with Test Provider" in page and "/accounts/oidc/authenticate/" in page
    assert "Create an account" in page
    settings.CHAT_LOCAL_SIGNUP = False
    page = Client().get("/accounts/login/").content.decode()
    assert "Create an account" not in page and "/accounts/signup/" not in page
    assert Client().get("/accounts/signup/").status_code == 404


def test_without_an_issuer_nothing_of_it_exists(settings):
    assert "Sign in with" not in Client().get("/accounts/login/").content.decode()
    assert Client().get("/accounts/oidc/authenticate/").status_code == 404
    assert Client().get("/accounts/oidc/callback/?code=x&state=y").status_code == 404


def test_the_code_flow_uses_state_nonce_and_pkce_and_makes_a_linked_user(oidc):
    provider_user(oidc, "dana", email="dana@example.com", email_verified=True)
    browser = Client()
    authorize = urlsplit(start(browser, next="/search/"))
    query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert authorize.path == "/authorize"
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    assert set(query["scope"].split()) == {"openid", "email", "profile"}
    done = browser.get(at_provider(authorize.geturl(), "dana"))
    assert done.status_code == 302 and done["Location"] == "/search/"
    me = whoami(browser)
    assert me["username"] == "dana"
    user = get_user_model().objects.get(pk=me["userId"])
    assert not user.has_usable_password()
    identity = ProviderIdentity.objects.get(user=user)
    assert identity.issuer == oidc.url and identity.subject.startswith("sub-")
    # The code was exchanged with the verifier (PKCE) by an authenticated client.
    assert {"path": "/token", "grant_type": "authorization_code"} in oidc.test("log")["log"]
    # Signing in again is the same user.
    again = Client()
    sign_in(again, oidc, "dana")
    assert whoami(again)["userId"] == me["userId"]
    assert ProviderIdentity.objects.count() == 1


def test_a_forged_or_replayed_state_signs_nobody_in(oidc):
    provider_user(oidc, "fred")
    browser = Client()
    callback = at_provider(start(browser), "fred")
    path, _, query = callback.partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    forged = browser.get(path, {**params, "state": "forged-" + params["state"]})
    assert forged.status_code == 302 and forged["Location"] == "/accounts/login/"
    assert whoami(browser) is None
    # Another browser cannot use this browser's code and state.
    other = Client()
    other.get("/accounts/login/")
    assert other.get(callback).status_code == 302 and whoami(other) is None
    # The real state works once, and its replay does not sign in a second browser.
    assert browser.get(callback)["Location"] == "/"
    assert whoami(browser)["username"] == "fred"


@pytest.mark.parametrize(
    "wrong", ["bad-signature", "wrong-audience", "wrong-issuer", "expired", "wrong-nonce"]
)
def test_an_id_token_that_does_not_verify_signs_nobody_in(oidc, wrong, caplog):
    provider_user(oidc, f"gina-{wrong}")
    oidc.test("misbehave", {"id_token": wrong})
    browser = Client()
    response = sign_in(browser, oidc, f"gina-{wrong}")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert whoami(browser) is None
    assert not get_user_model().objects.filter(username=f"gina-{wrong}").exists()
    page = browser.get("/accounts/login/").content.decode()
    assert "did not work" in page
    reasons = {
        "bad-signature": "signature does not verify", "wrong-audience": "another client",
        "wrong-issuer": "another provider", "expired": "expired", "wrong-nonce": "nonce",
    }  # fmt: skip
    assert reasons[wrong] in caplog.text


def test_an_email_never_links_accounts(oidc, make_user):
    erin = make_user("erin", email="erin@example.com")
    provider_user(oidc, "erin", email="erin@example.com", email_verified=False)
    browser = Client()
    sign_in(browser, oidc, "erin")
    me = whoami(browser)
    assert me["userId"] != str(erin.pk)
    assert me["username"].startswith("user-")  # "erin" is taken
    # Verified or not, an address is not an identity.
    provider_user(oidc, "erin2", email="erin@example.com", email_verified=True)
    other = Client()
    sign_in(other, oidc, "erin2")
    assert whoami(other)["userId"] not in {str(erin.pk), me["userId"]}


@pytest.mark.parametrize("name", ["aIice", "ALICE", "bad name!", "\u0430lice", "x" * 200])
def test_a_name_breaking_the_sign_up_rules_gets_a_generated_one(oidc, make_user, name):
    make_user("alice")
    provider_user(oidc, name)
    browser = Client()
    sign_in(browser, oidc, name)
    generated = whoami(browser)["username"]
    assert generated.startswith("user-") and len(generated) == 13
    # ... which the user changes on the settings page.
    assert browser.post("/settings/", {"action": "rename", "username": "alicia"}).status_code == 302
    assert whoami(browser)["username"] == "alicia"


def test_a_user_disabled_at_the_provider_is_signed_out_at_the_next_check(oidc, settings):
    sub = provider_user(oidc, "hank")
    browser = Client()
    sign_in(browser, oidc, "hank")
    settings.CHAT_OIDC_RECHECK_SECONDS = 0  # checked on every request from now on
    assert whoami(browser)["username"] == "hank"  # the provider still says yes
    assert {"path": "/token", "grant_type": "refresh_token"} in oidc.test("log")["log"]
    oidc.test("users", {"sub": sub, "username": "hank", "disabled": True})
    refused = browser.get("/api/me")
    assert refused.status_code == 401 and "WWW-Authenticate" in refused
    page = browser.get("/")
    assert page.status_code == 302 and page["Location"].startswith("/accounts/login/")


def test_a_provider_that_cannot_be_reached_does_not_sign_people_out(oidc, settings):
    browser = Client()
    provider_user(oidc, "ivy")
    sign_in(browser, oidc, "ivy")
    settings.CHAT_OIDC_RECHECK_SECONDS = 0
    original = provider_module.get_provider().endpoint

    def unreachable(name):
        raise provider_module.ProviderUnavailable("down")

    provider_module.get_provider().endpoint = unreachable
    try:
        assert whoami(browser)["username"] == "ivy"
    finally:
        provider_module.get_provider().endpoint = original


def test_logging_out_ends_the_providers_session_too(oidc):
    provider_user(oidc, "jack")
    browser = Client()
    sign_in(browser, oidc, "jack")
    out = browser.post("/accounts/logout/")
    assert out.status_code == 302
    end = urlsplit(out["Location"])
    query = {k: v[0] for k, v in parse_qs(end.query).items()}
    assert f"{end.scheme}://{end.netloc}{end.path}" == f"{oidc.url}/logout"
    assert query["post_logout_redirect_uri"] == "http://testserver/accounts/login/"
    assert query["client_id"] == CLIENT_ID and query["id_token_hint"].count(".") == 2
    assert whoami(browser) is None
    back = httpx.get(out["Location"], timeout=5)
    assert back.status_code == 302 and back.headers["location"] == query["post_logout_redirect_uri"]


def test_rotated_keys_are_fetched_again(oidc, monkeypatch):
    monkeypatch.setattr(provider_module, "JWKS_REFRESH_MIN_SECONDS", 0)
    provider_user(oidc, "kate")
    first = Client()
    sign_in(first, oidc, "kate")
    reads = oidc.test("log")["log"].count({"path": "/jwks"})
    second = Client()
    sign_in(second, oidc, "kate")
    assert oidc.test("log")["log"].count({"path": "/jwks"}) == reads  # cached
    oidc.test("rotate", {})
    third = Client()
    sign_in(third, oidc, "kate")
    assert whoami(third)["username"] == "kate"
    assert oidc.test("log")["log"].count({"path": "/jwks"}) == reads + 1


# --- the provider's access tokens as bearers ---


def access_token(idp, sub, **claims) -> str:
    return idp.test("access-token", {"sub": sub, **claims})["token"]


def test_a_providers_access_token_is_a_bearer_on_rest(oidc):
    sub = provider_user(oidc, "lena")
    program = APIClient(enforce_csrf_checks=True)
    program.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(oidc, sub)}")
    me = program.get("/api/me")
    assert me.status_code == 200 and me.json()["username"] == "lena"
    # The same user the browser signs in as.
    browser = Client()
    sign_in(browser, oidc, "lena")
    assert whoami(browser)["userId"] == me.json()["userId"]
    assert program.post("/api/tokens", {"name": "from a phone"}, format="json").status_code == 201


@pytest.mark.parametrize(
    "claims, reason",
    [
        ({"expires_in": -3600}, "expired"),
        ({"foreign_key": True}, "signature does not verify"),
        ({"client_id": "another-client"}, "another client"),
        ({"token_use": "id"}, "not an access token"),
        ({"iss": "https://cognito-idp.us-east-1.amazonaws.com/other"}, "another provider"),
    ],
)
def test_a_bad_access_token_is_a_401(oidc, claims, reason):
    sub = provider_user(oidc, "mona")
    response = APIClient().get(
        "/api/me", HTTP_AUTHORIZATION=f"Bearer {access_token(oidc, sub, **claims)}"
    )
    assert response.status_code == 401, response.content
    assert reason in response.json()["detail"]
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_an_id_token_is_not_a_bearer(oidc):
    sub = provider_user(oidc, "nina")
    id_token = oidc.test("id-token", {"sub": sub})["token"]
    response = APIClient().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {id_token}")
    assert response.status_code == 401 and "not an access token" in response.json()["detail"]


def test_a_deactivated_users_access_token_is_refused(oidc):
    sub = provider_user(oidc, "olga")
    token = access_token(oidc, sub)
    program = APIClient()
    program.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    me = program.get("/api/me").json()
    get_user_model().objects.filter(pk=me["userId"]).update(is_active=False)
    assert program.get("/api/me").status_code == 401


async def test_a_providers_access_token_opens_the_socket_until_it_expires(oidc):
    sub = await database_sync_to_async(provider_user)(oidc, "pia")
    token = await database_sync_to_async(access_token)(oidc, sub, expires_in=2)
    socket = WebsocketCommunicator(
        application, "/ws/",
        headers=[(b"host", b"localhost"), (b"authorization", f"Bearer {token}".encode())],
    )  # fmt: skip
    connected, _ = await socket.connect()
    assert connected
    await socket.send_to(text_data=json.dumps({"action": "ping"}))
    assert json.loads(await socket.receive_from(timeout=5))["type"] == "pong"
    closed = await socket.receive_output(timeout=10)
    assert closed == {"type": "websocket.close", "code": 4401}


def test_a_code_the_provider_refuses_signs_nobody_in(oidc, caplog):
    provider_user(oidc, "ruth")
    browser = Client()
    callback = at_provider(start(browser), "ruth")
    path, _, query = callback.partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    # The state is this browser's, the code is made up: the token endpoint refuses it.
    response = browser.get(path, {**params, "code": "made-up"})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert whoami(browser) is None
    assert "refused it" in browser.get("/accounts/login/").content.decode()
    assert "token endpoint: 400" in caplog.text


# --- what a review found ---


def test_a_user_deactivated_here_loses_the_pages_too(oidc):
    provider_user(oidc, "sven")
    browser = Client()
    sign_in(browser, oidc, "sven")
    user = get_user_model().objects.get(username="sven")
    user.is_active = False
    user.save()
    assert browser.get("/settings/").status_code == 302
    assert whoami(browser) is None


def test_a_session_survives_many_checks_while_the_provider_says_yes(oidc, settings):
    provider_user(oidc, "tara")
    browser = Client()
    sign_in(browser, oidc, "tara")
    settings.CHAT_OIDC_RECHECK_SECONDS = 0
    for _ in range(3):
        assert whoami(browser)["username"] == "tara"
    assert browser.get("/settings/").status_code == 200


def test_a_page_request_when_the_provider_refuses_goes_to_the_log_in_page(oidc, settings):
    sub = provider_user(oidc, "uma")
    browser = Client()
    sign_in(browser, oidc, "uma")
    settings.CHAT_OIDC_RECHECK_SECONDS = 0
    oidc.test("users", {"sub": sub, "username": "uma", "disabled": True})
    page = browser.get("/settings/")
    assert page.status_code == 302 and page["Location"].startswith("/accounts/login/?next=")
    assert (
        "Your session ended at the sign-in provider."
        in browser.get(page["Location"]).content.decode()
    )


def test_a_refusal_of_this_apps_client_signs_nobody_out(oidc, settings, caplog):
    # A wrong client secret (a rotation gone wrong), throttling, an unreadable answer: the
    # provider said nothing about the user, so the session stays.
    provider_user(oidc, "vera")
    browser = Client()
    sign_in(browser, oidc, "vera")
    settings.CHAT_OIDC_RECHECK_SECONDS = 0
    settings.CHAT_OIDC_CLIENT_SECRET = "wrong-after-a-rotation"
    assert whoami(browser)["username"] == "vera"
    assert "answered a session re-check with 401 invalid_client" in caplog.text


def test_an_unreadable_answer_to_a_check_is_no_error(oidc, settings, monkeypatch):
    provider_user(oidc, "wade")
    browser = Client()
    sign_in(browser, oidc, "wade")
    settings.CHAT_OIDC_RECHECK_SECONDS = 0

    class Html:
        status_code = 200

        def json(self):
            raise ValueError("not JSON")

    monkeypatch.setattr(signin.requests, "post", lambda *args, **kwargs: Html())
    assert browser.get("/settings/").status_code == 200
    assert whoami(browser)["username"] == "wade"


def test_a_callback_with_an_error_signs_nobody_out(oidc, make_user):
    browser = Client()
    browser.force_login(make_user("xena"))
    response = browser.get("/accounts/oidc/callback/?error=access_denied&state=x")
    assert response.status_code == 302
    assert whoami(browser)["username"] == "xena"


def test_a_subject_this_site_cannot_keep_is_refused(oidc):
    for sub in ["s" * 300]:
        token = oidc.test("users", {"sub": sub, "username": "yves"}) and access_token(oidc, sub)
        response = APIClient().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 401


def test_disabled_at_the_provider_pauses_the_users_tokens_until_they_sign_in_again(oidc, settings):
    from chat.identity.tokens import token_create

    sub = provider_user(oidc, "zoe")
    browser = Client()
    sign_in(browser, oidc, "zoe")
    user = get_user_model().objects.get(username="zoe")
    _, secret = token_create(user=user, name="script")
    program = APIClient()
    program.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert program.get("/api/me").status_code == 200
    settings.CHAT_OIDC_RECHECK_SECONDS = 0
    oidc.test("users", {"sub": sub, "username": "zoe", "disabled": True})
    assert whoami(browser) is None
    refused = program.get("/api/me")
    assert refused.status_code == 401 and "sign in on the site again" in refused.json()["detail"]
    # Enabled again and signed in again: the token works again.
    oidc.test("users", {"sub": sub, "username": "zoe", "disabled": False})
    sign_in(Client(), oidc, "zoe")
    assert program.get("/api/me").status_code == 200


def test_an_unreachable_provider_is_not_asked_again_at_once(settings, monkeypatch):
    settings.CHAT_OIDC_ISSUER = "http://127.0.0.1:9"  # nothing listens there
    settings.CHAT_OIDC_CLIENT_ID = CLIENT_ID
    calls = []
    real_get = provider_module.requests.get

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real_get(*args, **kwargs)

    monkeypatch.setattr(provider_module.requests, "get", counting)
    provider_module._providers.pop(settings.CHAT_OIDC_ISSUER, None)
    token = "eyJhbGciOiJSUzI1NiIsImtpZCI6Im1hZGUtdXAifQ.e30.c2ln"
    for _ in range(5):
        response = APIClient().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 503 and response["Retry-After"]
    assert len(calls) == 1  # then failing at once for RETRY_SECONDS


async def test_a_suspended_users_token_sockets_close(oidc, settings):
    from chat.identity.tokens import token_create

    sub = await database_sync_to_async(provider_user)(oidc, "abel")
    browser = Client()
    await database_sync_to_async(sign_in)(browser, oidc, "abel")
    user = await database_sync_to_async(get_user_model().objects.get)(username="abel")
    _, secret = await database_sync_to_async(token_create)(user=user, name="bot")
    socket = WebsocketCommunicator(
        application, "/ws/",
        headers=[(b"host", b"localhost"), (b"authorization", f"Bearer {secret}".encode())],
    )  # fmt: skip
    assert (await socket.connect())[0]
    settings.CHAT_OIDC_RECHECK_SECONDS = 0
    await database_sync_to_async(oidc.test)(
        "users", {"sub": sub, "username": "abel", "disabled": True}
    )
    assert await database_sync_to_async(whoami)(browser) is None
    closed = await socket.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4401}


def test_logging_out_with_cognito_s_log_out_url(oidc, settings, monkeypatch):
    # Cognito publishes no end_session_endpoint: its hosted UI's /logout takes client_id and
    # logout_uri instead.
    provider_user(oidc, "bea")
    browser = Client()
    sign_in(browser, oidc, "bea")
    settings.CHAT_OIDC_LOGOUT_URL = "https://chat-dev.auth.us-east-1.amazoncognito.com/logout"
    source = provider_module.get_provider()
    metadata = {k: v for k, v in source.metadata().items() if k != "end_session_endpoint"}
    monkeypatch.setattr(source, "metadata", lambda: metadata)
    out = browser.post("/accounts/logout/")
    end = urlsplit(out["Location"])
    assert f"{end.scheme}://{end.netloc}{end.path}" == settings.CHAT_OIDC_LOGOUT_URL
    assert parse_qs(end.query) == {
        "client_id": [CLIENT_ID],
        "logout_uri": ["http://testserver/accounts/login/"],
    }
    assert whoami(browser) is None


@pytest.fixture(scope="module")
def public_idp(tmp_path_factory):
    """The provider with a public client: no secret, PKCE alone."""
    server = OidcProvider(
        dict(os.environ), tmp_path_factory.mktemp("oidc-public") / "provider.log",
        client_id="chat-public", client_secret="",
        redirect_uris=["http://testserver/accounts/oidc/callback/"], logout_uris=[],
    ).start()  # fmt: skip
    yield server
    server.stop()


def test_a_public_client_signs_in_with_pkce_alone(public_idp, settings):
    settings.CHAT_OIDC_ISSUER = public_idp.url
    settings.CHAT_OIDC_CLIENT_ID = "chat-public"
    settings.CHAT_OIDC_CLIENT_SECRET = ""
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, signin.BACKEND]
    provider_user(public_idp, "cleo")
    browser = Client()
    assert sign_in(browser, public_idp, "cleo")["Location"] == "/"
    assert whoami(browser)["username"] == "cleo"
    # Re-checked with the refresh token, as a public client too.
    settings.CHAT_OIDC_RECHECK_SECONDS = 0
    assert whoami(browser)["username"] == "cleo"
