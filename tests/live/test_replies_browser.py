"""In the browser: a reply quotes its message and jumps to it, emoji reactions count live for
both people, search finds a message and opens it in its place, and the user picker suggests
names as they are typed, by keyboard alone."""

import re

import pytest
from playwright.sync_api import expect

from tests.live.browser import daphne_server, live_pages, name, screenshot, send
from tests.live.users import LiveUser

pytestmark = [pytest.mark.live, pytest.mark.browser]


@pytest.fixture
def server(tmp_path):
    with daphne_server(tmp_path) as daphne:
        yield daphne


HIGHLIGHTED = re.compile(r"\bhighlight\b")


def message(page, text):
    return page.locator("#messages .message", has=page.locator(".body", has_text=text))


def test_a_reply_quotes_its_message_and_reactions_count_live(server):
    alice, bob = (LiveUser(server.url, name()).sign_up().log_in() for _ in range(2))
    chat_id = alice.direct_chat(bob)
    # Enough history that the first message is not on the first page.
    for n in range(60):
        alice.api("POST", f"/api/chats/{chat_id}/messages", json={"message": f"line {n}"})
    with live_pages(server, [alice, bob], f"/chats/{chat_id}/") as (page_a, page_b):
        last = message(page_b, "line 59")
        last.hover()
        last.locator("button.reply").click()
        expect(page_b.locator("#reply-bar")).to_contain_text("Replying to")
        expect(page_b.locator("#reply-bar")).to_contain_text("line 59")
        send(page_b, "agreed")
        expect(page_b.locator("#reply-bar")).to_be_hidden()
        for page in (page_a, page_b):
            reply = message(page, "agreed")
            expect(reply.locator(".quote")).to_contain_text("line 59")
        # Escape cancels a reply.
        message(page_b, "line 58").hover()
        message(page_b, "line 58").locator("button.reply").click()
        page_b.press("#message-input", "Escape")
        expect(page_b.locator("#reply-bar")).to_be_hidden()

        # A reply to a message far back: its quote, clicked, loads older pages and shows it.
        bob.api(
            "POST",
            f"/api/chats/{chat_id}/messages",
            json={"message": "about the first", "replyTo": first_message_id(bob, chat_id)},
        )
        quote = message(page_a, "about the first").locator(".quote")
        expect(quote).to_contain_text("line 0")
        quote.click()
        expect(message(page_a, "line 0")).to_have_class(HIGHLIGHTED)
        expect(message(page_a, "line 0")).to_be_in_viewport()

        # Reactions: Bob puts 👍 from the palette, Alice sees it and adds hers.
        target = message(page_b, "agreed")
        target.hover()
        target.locator("button.react").click()
        page_b.locator(".palette button", has_text="👍").click()
        for page in (page_a, page_b):
            expect(message(page, "agreed").locator(".reaction")).to_have_text(["👍 1"])
        expect(message(page_b, "agreed").locator(".reaction")).to_have_attribute(
            "aria-pressed", "true"
        )
        message(page_a, "agreed").locator(".reaction").click()
        for page in (page_a, page_b):
            expect(message(page, "agreed").locator(".reaction")).to_have_text(["👍 2"])
        # Keyboard only: the palette opens from the focused React button and Escape closes it.
        react = message(page_a, "agreed").locator("button.react")
        react.focus()
        page_a.keyboard.press("Enter")
        expect(page_a.locator(".palette")).to_be_visible()
        page_a.keyboard.press("Escape")
        expect(page_a.locator(".palette")).to_have_count(0)
        message(page_a, "agreed").locator(".reaction").click()  # take hers back
        for page in (page_a, page_b):
            expect(message(page, "agreed").locator(".reaction")).to_have_text(["👍 1"])
        screenshot(page_b, "reply-and-reactions")
        page_b.reload()
        expect(message(page_b, "agreed").locator(".reaction")).to_have_text(["👍 1"])
        expect(message(page_b, "agreed").locator(".quote")).to_contain_text("line 59")
        # The quoted message deleted: the quote says so, live.
        page_a.on("dialog", lambda dialog: dialog.accept())
        original = message(page_a, "line 59")
        original.hover()
        original.locator("button.delete").click()
        expect(message(page_b, "agreed").locator(".quote")).to_have_text("message deleted")


def first_message_id(user, chat_id):
    page = user.api("GET", f"/api/chats/{chat_id}/messages", params={"afterSeq": 0, "limit": 1})
    return page.json()["messages"][0]["messageId"]


def test_search_opens_a_message_in_its_place_and_the_picker_suggests_names(server):
    alice = LiveUser(server.url, name()).sign_up().log_in()
    bob = LiveUser(server.url, f"zed{name()}").sign_up().log_in()
    chat_id = alice.direct_chat(bob)
    bob.api("POST", f"/api/chats/{chat_id}/messages", json={"message": "The Quarterly report"})
    for n in range(70):
        alice.api("POST", f"/api/chats/{chat_id}/messages", json={"message": f"chatter {n}"})
    with live_pages(server, [alice], "/") as (page,):
        page.fill("#search-input", "quart")
        page.press("#search-input", "Enter")
        expect(page.locator(".result-count")).to_have_text("1 message found")
        expect(page.locator(".results li")).to_have_count(1)
        expect(page.locator(".results li")).to_contain_text("The Quarterly report")
        screenshot(page, "search-results")
        page.locator(".results li a").click()
        found = message(page, "The Quarterly report")
        expect(found).to_be_in_viewport()
        expect(found).to_have_class(HIGHLIGHTED)
        page.fill("#search-input", "nothing-like-this")
        page.press("#search-input", "Enter")
        expect(page.locator(".result-count")).to_have_text("Nothing found")

        # The picker: Bob, known from the chat, is suggested from his first letters; arrow keys
        # and Enter pick him; Escape closes the list.
        page.goto(f"{server.url}/")
        page.click("#new-chat-open")
        field = page.locator("#id_usernames")
        expect(field).to_be_focused()
        field.press_sequentially(bob.username[:2].upper(), delay=30)
        options = page.locator(".picker [role=option]")
        expect(options).to_have_count(1)
        expect(options.first).to_contain_text(bob.username)
        expect(field).to_have_attribute("aria-expanded", "true")
        field.press("ArrowDown")
        expect(options.first).to_have_attribute("aria-selected", "true")
        screenshot(page, "user-picker")
        field.press("Enter")
        expect(field).to_have_value(f"{bob.username}, ")
        expect(page.locator(".picker")).to_be_hidden()
        field.press_sequentially(bob.username[:3], delay=30)
        expect(options).to_have_count(1)
        field.press("Escape")
        expect(field).to_have_attribute("aria-expanded", "false")
        expect(page.locator(".picker")).to_be_hidden()
        # The first Escape closed the suggestions only; the next closes the dialog, and focus
        # goes back to its button.
        expect(page.locator("#new-chat-dialog")).to_be_visible()
        field.press("Escape")
        expect(page.locator("#new-chat-dialog")).to_be_hidden()
        expect(page.locator("#new-chat-open")).to_be_focused()
