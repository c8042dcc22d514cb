"""Receipts and presence in the browser across two server processes sharing Redis: a message
goes from sent to delivered to read at its sender's page, and a person shows online and then
"last seen", while the others' pages are on the other process."""

import uuid

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.live.browser import launch, logged_in_context, screenshot, send
from tests.live.cluster import Cluster
from tests.live.users import LiveUser
from tests.servers import Daphne

pytestmark = [pytest.mark.live, pytest.mark.browser, pytest.mark.cluster]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with Cluster(
        tmp_path_factory.mktemp("receipts"), servers=(Daphne, Daphne), store="orm",
        CHAT_PRESENCE_POLL_SECONDS="1",
    ).running() as running:  # fmt: skip
        yield running


def open_page(browser, process, user, path):
    context = logged_in_context(browser, process.url, user)
    page = context.new_page()
    page.goto(process.url + path)
    expect(page.locator("#connection-state")).to_have_text("live")
    return page


def direct_pair(p1, p2):
    """Alice (signed up on process 1), Bob (on process 2) and their direct chat."""
    alice = LiveUser(p1.url, f"a{uuid.uuid4().hex[:8]}").sign_up().log_in()
    bob = LiveUser(p2.url, f"b{uuid.uuid4().hex[:8]}").sign_up().log_in()
    return alice, bob, alice.direct_chat(bob)


def test_a_direct_message_is_sent_then_delivered_then_read(cluster):
    p1, p2 = cluster.processes
    alice, bob, chat_id = direct_pair(p1, p2)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page_a = open_page(browser, p1, alice, f"/chats/{chat_id}/")
            send(page_a, "anyone there?")
            receipt = page_a.locator("#messages .message.mine .receipt")
            expect(receipt).to_have_attribute("data-state", "sent")
            # Bob's chat list (on the other process) receives it: delivered.
            listing = open_page(browser, p2, bob, "/")
            send(page_a, "hello?")
            expect(receipt.last).to_have_attribute("data-state", "delivered")
            screenshot(page_a, "receipt-delivered")
            # Bob opens the chat: read, both messages.
            open_page(browser, p2, bob, f"/chats/{chat_id}/")
            expect(receipt).to_have_count(2)
            for n in range(2):
                expect(receipt.nth(n)).to_have_attribute("data-state", "read")
            screenshot(page_a, "receipt-read")
            listing.close()
        finally:
            browser.close()


def test_a_group_message_says_how_many_have_read_it_and_who(cluster):
    p1, p2 = cluster.processes
    alice, bob, carol = (
        LiveUser(p.url, f"{who}{uuid.uuid4().hex[:8]}").sign_up().log_in()
        for p, who in ((p1, "a"), (p2, "b"), (p2, "c"))
    )
    chat_id = alice.api(
        "POST", "/api/chats",
        json={"chatType": "group", "chatName": "trio",
              "participants": [alice.find(bob), alice.find(carol)]},
    ).json()["chatId"]  # fmt: skip
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page_a = open_page(browser, p1, alice, f"/chats/{chat_id}/")
            send(page_a, "lunch?")
            receipt = page_a.locator("#messages .message.mine .receipt")
            expect(receipt).to_have_attribute("data-state", "sent")
            open_page(browser, p2, bob, f"/chats/{chat_id}/")
            expect(receipt).to_have_text("✓✓ read by 1")
            expect(receipt).to_have_attribute("title", f"Read by {bob.username}")
            open_page(browser, p2, carol, f"/chats/{chat_id}/")
            expect(receipt).to_have_text("✓✓ read by 2")
            expect(receipt).to_have_attribute("data-state", "read")
            screenshot(page_a, "receipt-group")
        finally:
            browser.close()


def test_a_person_shows_online_while_their_page_is_open_then_last_seen(cluster):
    p1, p2 = cluster.processes
    alice, bob, chat_id = direct_pair(p1, p2)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page_a = open_page(browser, p1, alice, f"/chats/{chat_id}/")
            line = page_a.locator(".presence-line")
            expect(line).to_have_text("offline")
            page_b = open_page(browser, p2, bob, "/")
            expect(line).to_have_text("online")
            listing = page_a.locator(f'#chat-list li[data-chat-id="{chat_id}"] .avatar')
            expect(listing).to_have_attribute("data-online", "true")
            screenshot(page_a, "presence-online")
            page_b.close()
            expect(line).to_contain_text("last seen today at", timeout=10000)
        finally:
            browser.close()
