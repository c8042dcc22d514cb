"""Signing in with an OpenID Connect provider in Chromium, end to end: the app as deployed
(uvicorn) and a real provider (tests/oidc_provider.py, Authlib), each its own process on
loopback. Then a personal token made on the settings page drives the reference client as a
bot, and revoking it signs the bot out; log-out ends the provider's session too."""

import asyncio
import concurrent.futures
import uuid

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from chat_client import ChatClient, SignedOut
from tests.live.browser import launch
from tests.live.users import LiveUser
from tests.servers import OidcProvider, Uvicorn, migrated, server_database, server_env

pytestmark = [pytest.mark.live, pytest.mark.browser]


@pytest.fixture
def deployment(tmp_path):
    """The app (uvicorn) signing in with the provider, and the provider."""
    with server_database(tmp_path) as database_url:
        env = server_env(database_url)
        app = Uvicorn(env, tmp_path / "app.log")  # its port is chosen here
        idp = OidcProvider(
            dict(env), tmp_path / "idp.log", client_id="chat-web", client_secret="web-secret",
            redirect_uris=[f"{app.url}/accounts/oidc/callback/"],
            logout_uris=[f"{app.url}/accounts/login/"],
        ).start()  # fmt: skip
        app.env.update(
            CHAT_OIDC_ISSUER=idp.url, CHAT_OIDC_CLIENT_ID="chat-web",
            CHAT_OIDC_CLIENT_SECRET="web-secret", CHAT_OIDC_NAME="Test Provider",
        )  # fmt: skip
        migrated(app.env)
        app.start()
        try:
            yield app, idp
        finally:
            app.stop()
            idp.stop()


def run_async(coroutine):
    """Run the reference client beside Playwright's own loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=60)


def test_sign_in_with_the_provider_then_a_bot_with_a_token(deployment):
    app, idp = deployment
    name = f"quinn{uuid.uuid4().hex[:6]}"
    idp.test("users", {"sub": f"sub-{name}", "username": name, "email": f"{name}@example.com"})
    friend = LiveUser(app.url, f"rita{uuid.uuid4().hex[:6]}").sign_up().log_in()
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page()
        page.goto(f"{app.url}/accounts/login/")
        page.get_by_role("link", name="Sign in with Test Provider").click()
        expect(page.get_by_role("heading", name="Test provider: sign in")).to_be_visible()
        page.fill("#provider-username", name)
        page.get_by_role("button", name="Continue").click()
        expect(page.locator(".whoami strong")).to_have_text(name)
        assert page.url == f"{app.url}/"

        # A token for a bot, made on the settings page and shown once.
        page.get_by_role("link", name="Settings").click()
        page.fill("#id_name", "echo bot")
        page.get_by_role("button", name="New token").click()
        secret = page.locator("#new-token").input_value()
        assert secret.startswith("chat_")
        page.goto(f"{app.url}/settings/")
        expect(page.locator("#new-token")).to_have_count(0)
        expect(page.get_by_role("cell", name="echo bot", exact=True)).to_be_visible()
        # The settings page fits a phone, its token table included.
        page.set_viewport_size({"width": 320, "height": 700})
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        page.set_viewport_size({"width": 1280, "height": 720})

        async def bot_says_hello():
            bot = ChatClient(app.url, token=secret)
            me = await bot.whoami()
            async with httpx.AsyncClient(base_url=app.url, timeout=10) as http:
                auth = {"Authorization": f"Bearer {secret}"}
                found = await http.get(f"/api/users?username={friend.username}", headers=auth)
                friend_id = found.json()["users"][0]["userId"]
                chat = await http.post(
                    "/api/chats", json={"chatType": "direct", "participants": [friend_id]},
                    headers=auth,
                )  # fmt: skip
            chat_id = chat.json()["chatId"]
            await bot.start([chat_id])
            ack = await bot.send(chat_id, "hello from a bot")
            await bot.close()
            return me, chat_id, ack

        me, chat_id, ack = run_async(bot_says_hello())
        assert me["username"] == name and ack["seq"] == 1
        page.goto(f"{app.url}/chats/{chat_id}/")
        expect(page.locator("#messages")).to_contain_text("hello from a bot")

        # Revoking the token in the page signs the bot out: its socket closes with 4401 and it
        # does not reconnect.
        async def bot_until_revoked():
            bot = ChatClient(app.url, token=secret, backoff_max=0.5)
            await bot.start([chat_id])
            revoked.set_result(None)
            try:
                await bot.wait_until(lambda: bot.signed_out is not None, timeout=20)
            finally:
                await bot.close()
            return bot.signed_out, bot.reconnects

        revoked = concurrent.futures.Future()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            running = pool.submit(asyncio.run, bot_until_revoked())
            revoked.result(timeout=30)
            page.goto(f"{app.url}/settings/")
            page.get_by_role("button", name="Revoke echo bot").click()
            expect(page.get_by_role("status")).to_contain_text("revoked")
            signed_out, reconnects = running.result(timeout=30)
        assert isinstance(signed_out, SignedOut) and signed_out.code == 4401
        assert reconnects <= 1

        # Log-out goes through the provider's end-session page and back to the log-in page.
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()
        assert page.url.startswith(f"{app.url}/accounts/login/")
        ends = [e for e in idp.test("log")["log"] if e["path"] == "/logout"]
        assert ends and ends[-1]["args"]["client_id"] == "chat-web"
        assert page.request.get(f"{app.url}/api/me").status == 401
        browser.close()
