"""Two people chat in two browsers, as a newcomer would try it after `make run`."""

import re
import uuid

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.live.browser import launch
from tests.servers import Daphne, migrate, server_database, server_env

pytestmark = [pytest.mark.live, pytest.mark.browser]
PASSWORD = "browser-test-password-42"


@pytest.fixture
def server(tmp_path):
    with server_database(tmp_path) as database_url:
        env = server_env(database_url)
        migrate(env)
        daphne = Daphne(env, tmp_path / "daphne.log").start()
        yield daphne
        daphne.stop()


def sign_up(page, base_url, username):
    page.goto(f"{base_url}/accounts/signup/")
    page.fill("#id_username", username)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".whoami")).to_contain_text(username)


def send(page, text):
    page.fill("#message-input", text)
    page.press("#message-input", "Enter")


def bodies(page):
    return page.locator("#messages .message:not(.pending) .body")


def test_two_browsers_chat_live_and_history_survives_reload_and_restart(server):
    alice, bob = f"alice{uuid.uuid4().hex[:6]}", f"bob{uuid.uuid4().hex[:6]}"
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page_a = browser.new_context().new_page()
            page_b = browser.new_context().new_page()
            sign_up(page_a, server.url, alice)
            sign_up(page_b, server.url, bob)

            page_a.select_option("#id_chat_type", "direct")
            page_a.fill("#id_usernames", bob)
            page_a.click("#new-chat button[type=submit]")
            expect(page_a).to_have_url(re.compile(r"/chats/[0-9a-f-]+/$"))
            expect(page_a.locator("#connection-state")).to_have_text("live")

            # Bob's chat list updates live: last message and unread count.
            page_b.goto(server.url + "/")
            expect(page_b.locator("#connection-state")).to_have_text("live")
            send(page_a, "Hello Bob")
            expect(bodies(page_a)).to_have_text(["Hello Bob"])
            listed = page_b.locator("#chat-list li").filter(has_text=alice)
            expect(listed.locator(".last-message")).to_contain_text("Hello Bob")
            expect(listed.locator(".unread")).to_have_text("1")

            listed.click()
            expect(page_b.locator("#connection-state")).to_have_text("live")
            expect(bodies(page_b)).to_have_text(["Hello Bob"])
            send(page_b, "<b>Hi</b> Alice")
            expect(bodies(page_a)).to_have_text(["Hello Bob", "<b>Hi</b> Alice"])
            assert page_a.locator("#messages b").count() == 0  # shown as text, not markup
            expect(page_b.locator("#messages .pending")).to_have_count(0)

            page_a.reload()
            expect(bodies(page_a)).to_have_text(["Hello Bob", "<b>Hi</b> Alice"])

            server.stop()
            expect(page_a.locator("#connection-state")).to_have_text(re.compile("reconnecting"))
            # Written while the server is down: shown as pending, then delivered once.
            send(page_a, "Sent while down")
            expect(page_a.locator("#messages .pending .body")).to_have_text(["Sent while down"])
            server.start()
            # Both pages reconnect by themselves and chat on, without a reload.
            expect(page_a.locator("#connection-state")).to_have_text("live", timeout=20000)
            expect(page_b.locator("#connection-state")).to_have_text("live", timeout=20000)
            everything = ["Hello Bob", "<b>Hi</b> Alice", "Sent while down"]
            expect(bodies(page_a)).to_have_text(everything, timeout=15000)
            expect(page_a.locator("#messages .pending")).to_have_count(0)
            expect(bodies(page_b)).to_have_text(everything, timeout=15000)
            send(page_b, "Still here")
            everything.append("Still here")
            expect(bodies(page_a)).to_have_text(everything, timeout=10000)
            page_a.reload()
            page_b.reload()
            expect(bodies(page_a)).to_have_text(everything)
            expect(bodies(page_b)).to_have_text(everything)
        finally:
            browser.close()
