"""What a new user meets first, tried by two or three people in their own browsers: chats that
appear in the others' lists as they are started, renamed or left; a page that fits a phone;
links, drafts, the title, the keyboard, files, an outage and the page's density."""

import re

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.live.browser import (
    HIDDEN_AND_NOTIFICATIONS,
    SOCKET_SWITCH,
    bodies,
    daphne_server,
    launch,
    logged_in_context,
    name,
    screenshot,
    send,
)
from tests.live.users import LiveUser

pytestmark = [pytest.mark.live, pytest.mark.browser]


@pytest.fixture
def server(tmp_path):
    with daphne_server(tmp_path) as daphne:
        yield daphne


@pytest.fixture
def browser():
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


def people(server, count):
    return [LiveUser(server.url, name()).sign_up().log_in() for _ in range(count)]


def open_page(browser, server, user, path, **options):
    """``user``'s own browser context at ``path``, once its socket is live; its console errors
    are collected in ``page.errors``."""
    context = logged_in_context(browser, server.url, user, **options)
    page = context.new_page()
    page.errors = []
    # (A socket the test cut off on purpose is not the page's error.)
    page.on(
        "console",
        lambda m: m.type == "error" and "/ws-blocked/" not in m.text and page.errors.append(m.text),
    )
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(server.url + path)
    expect(page.locator("#connection-state")).to_have_text("live")
    return page


def start_group(owner, name, *members) -> str:
    """A group of ``owner`` and ``members`` (LiveUsers) named ``name``, started over the API."""
    body = {"chatType": "group", "chatName": name, "participants": [owner.find(m) for m in members]}
    return owner.api("POST", "/api/chats", json=body).json()["chatId"]


def item(page, chat_id):
    return page.locator(f'#chat-list li[data-chat-id="{chat_id}"]')


def test_chats_started_renamed_and_left_show_live_in_the_others_lists(server, browser):
    alice, bob, carol = people(server, 3)
    side = alice.direct_chat(carol)  # Carol reads this one while the group starts
    page_a = open_page(browser, server, alice, "/")
    page_b = open_page(browser, server, bob, "/", init_script=HIDDEN_AND_NOTIFICATIONS)
    page_b.click("#notify-toggle")
    expect(page_b.locator("#notify-toggle")).to_have_text("Notifications on")
    page_c = open_page(browser, server, carol, f"/chats/{side}/")
    expect(page_c).to_have_title(f"{alice.username} · Chat")

    # Alice starts a group from the dialog: two people, so it asks for a name.
    page_a.click("#new-chat-open")
    page_a.fill("#id_usernames", f"{bob.username}, {carol.username}")
    expect(page_a.locator("#id_name")).to_be_visible()
    page_a.locator("#id_name").focus()
    expect(page_a.locator(".picker")).to_be_hidden()
    page_a.click("#new-chat button[type=submit]")
    assert page_a.eval_on_selector("#id_name", "(e) => e.validity.valueMissing")
    expect(page_a).to_have_url(server.url + "/")
    page_a.fill("#id_name", "Trip")
    expect(page_a.locator(".picker")).to_be_hidden()  # the suggestions closed: nothing moves
    page_a.click("#new-chat button[type=submit]")
    expect(page_a).to_have_url(re.compile(r"/chats/[0-9a-f-]+/$"))
    group = page_a.url.rstrip("/").rsplit("/", 1)[1]

    # Bob's open list shows it at once, without a reload; Carol's too, beside her open chat.
    expect(item(page_b, group).locator(".chat-name")).to_have_text("Trip")
    expect(item(page_c, group).locator(".chat-name")).to_have_text("Trip")
    expect(page_a.locator("#connection-state")).to_have_text("live")
    send(page_a, "hi all")
    expect(item(page_b, group).locator(".unread")).to_have_text("1")
    expect(item(page_b, group).locator(".last-message")).to_contain_text("hi all")
    expect(page_b).to_have_title("(1) Chats")
    notes = page_b.evaluate("window.__notes")
    assert notes == [["Trip", f"{alice.username}: hi all"]], notes
    # Carol's title counts the other chat's message while her own chat is open.
    expect(page_c).to_have_title(f"(1) {alice.username} · Chat")
    screenshot(page_b, "new-chat-live")

    # A rename shows in every list; being removed takes the chat out of Carol's.
    renamed = alice.api("PATCH", f"/api/chats/{group}", json={"chatName": "Summit trip"})
    assert renamed.status_code == 200
    expect(page_a.locator(".chat-title h1")).to_have_text("Summit trip")
    expect(page_a).to_have_title("Summit trip · Chat")
    expect(page_a.locator(".chat-header .avatar")).to_have_text("ST")
    expect(item(page_b, group).locator(".chat-name")).to_have_text("Summit trip")
    expect(item(page_c, group).locator(".chat-name")).to_have_text("Summit trip")
    removed = alice.api("DELETE", f"/api/chats/{group}/members/{carol.user_id}")
    assert removed.status_code == 200
    expect(item(page_c, group)).to_have_count(0)
    expect(page_a.locator(".chat-title .members .member")).to_have_text(
        [alice.username, bob.username]
    )
    expect(page_c).to_have_title(f"{alice.username} · Chat")
    expect(item(page_b, group)).to_have_count(1)

    # A direct chat started while Bob reads another chat: listed with its first message.
    page_b.goto(f"{server.url}/chats/{group}/")
    expect(page_b.locator("#connection-state")).to_have_text("live")
    direct = carol.direct_chat(bob)
    carol.api("POST", f"/api/chats/{direct}/messages", json={"message": "psst"})
    expect(item(page_b, direct).locator(".chat-name")).to_have_text(carol.username)
    expect(item(page_b, direct).locator(".unread")).to_have_text("1")
    expect(page_b).to_have_title("(1) Summit trip · Chat")
    # The other person's colour, as beside their messages.
    hue = item(page_b, direct).locator(".avatar").get_attribute("data-hue")
    page_b.goto(f"{server.url}/chats/{direct}/")
    expect(page_b.locator("#messages .message .avatar").first).to_have_attribute("data-hue", hue)
    expect(page_b.locator(".chat-header .avatar")).to_have_attribute("data-hue", hue)
    for page in (page_a, page_b, page_c):
        assert page.errors == [], page.errors


LONG_WORD = "Supercalifragilistic" * 15
LONG_URL = "https://example.com/" + "a-very-long-path-segment/" * 12 + "end"
LONG_FILE = "quarterly-report-with-an-unreasonably-long-name-" * 3 + ".txt"

# Everything on the page lies within the window, and nothing scrolls sideways.
OVERFLOW = """() => {
  const width = window.innerWidth;
  const wide = [...document.querySelectorAll("body *")].filter((e) => {
    const box = e.getBoundingClientRect();
    const outside = box.right > width + 1 || box.left < -1;
    return box.width > 0 && outside && !e.closest(".visually-hidden, .skip-link");
  }).map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`);
  const tall = document.documentElement.scrollHeight > window.innerHeight + 1;
  return { scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 5), tall };
}"""


def test_nothing_is_wider_than_a_phone_whatever_is_said(server, browser):
    alice, bob = people(server, 2)
    chat_id = alice.direct_chat(bob)
    messages = f"/api/chats/{chat_id}/messages"
    quoted = alice.api("POST", messages, json={"message": f"{LONG_WORD} and more"}).json()
    bob.api("POST", messages, json={"message": LONG_URL, "replyTo": quoted["messageId"]})
    bob.api("POST", messages, json={"message": "short"})
    group = start_group(alice, "G" * 200, bob)
    alice.api("POST", f"/api/chats/{group}/messages", json={"message": LONG_WORD})
    for sent, width in enumerate((320, 390)):
        page = open_page(
            browser, server, bob, f"/chats/{chat_id}/", viewport={"width": width, "height": 700}
        )
        expect(page.locator("#messages .message")).to_have_count(3 + sent)
        # A file with a long name waits in the tray, then is sent.
        page.set_input_files(
            "#file-input",
            files=[{"name": LONG_FILE, "mimeType": "text/plain", "buffer": b"numbers"}],
        )
        expect(page.locator("#tray .tray-file")).to_have_count(1)
        assert page.evaluate(OVERFLOW)["wide"] == []
        page.click("#send")
        expect(page.locator("#messages .attachment-file")).to_have_count(1 + sent)
        # A tap on a message shows its buttons (no hover on a phone).
        tapped = page.locator("#messages .message").first
        tapped.locator(".body").click()
        tapped.locator(".reply").click()
        expect(page.locator("#reply-bar")).to_be_visible()
        layout = page.evaluate(OVERFLOW)
        assert layout["scroll"] <= width and layout["wide"] == [], layout
        assert not layout["tall"], layout  # the app fills the window; only its panes scroll
        send_box = page.locator("#send").bounding_box()
        assert send_box["x"] >= 0 and send_box["x"] + send_box["width"] <= width
        assert send_box["y"] + send_box["height"] <= 700
        # A compact top bar: one line, also with the notification switch's longest label.
        assert page.locator(".topbar").bounding_box()["height"] <= 48
        longest = "(e) => { e.textContent = 'Notifications blocked'; }"
        page.eval_on_selector("#notify-toggle", longest)
        assert page.locator(".topbar").bounding_box()["height"] <= 48
        assert page.evaluate(OVERFLOW)["wide"] == []
        if width == 320:
            screenshot(page, "phone-long-words-chat")
        page.goto(server.url + "/")
        expect(page.locator("#chat-list li[data-chat-id]")).to_have_count(2)
        layout = page.evaluate(OVERFLOW)
        assert layout["scroll"] <= width and layout["wide"] == [], layout
        if width == 320:
            screenshot(page, "phone-long-words-list")
        page.goto(f"{server.url}/chats/{group}/")
        expect(page.locator("#messages .message")).to_have_count(1)
        layout = page.evaluate(OVERFLOW)
        assert layout["scroll"] <= width and layout["wide"] == [], layout
        assert page.errors == [], page.errors
        page.context.close()


def test_links_drafts_and_the_length_limit_in_the_message_box(server, browser):
    alice, bob = people(server, 2)
    chat_id = alice.direct_chat(bob)
    other = start_group(alice, "Other", bob)
    text = (
        "docs: https://example.com/docs, (see http://example.org/a_(b)) and "
        "javascript:alert(1) ftp://files.example.com <a href='x'>not markup</a> "
        "data:text/html,hi"
    )
    alice.api("POST", f"/api/chats/{chat_id}/messages", json={"message": text})
    page = open_page(browser, server, bob, f"/chats/{chat_id}/")
    body = page.locator("#messages .message .body").first
    expect(body).to_have_text(text)
    links = body.locator("a")
    expect(links).to_have_count(2)
    assert [links.nth(i).get_attribute("href") for i in range(2)] == [
        "https://example.com/docs",
        "http://example.org/a_(b)",
    ]
    for i in range(2):
        expect(links.nth(i)).to_have_attribute("rel", "noopener noreferrer")
        expect(links.nth(i)).to_have_attribute("target", "_blank")

    # A draft per chat: kept when switching chats and reloading, cleared by sending.
    box = page.locator("#message-input")
    expect(box).to_be_focused()  # the message box has focus when a chat opens
    box.fill("half a thought")
    item(page, other).locator("a").click()
    expect(page.locator(".chat-title h1")).to_have_text("Other")
    expect(page.locator("#connection-state")).to_have_text("live")
    expect(page.locator("#message-input")).to_have_value("")
    page.locator("#message-input").fill("for the group")
    item(page, chat_id).locator("a").click()
    expect(page.locator("#message-input")).to_have_value("half a thought")
    page.reload()
    expect(page.locator("#message-input")).to_have_value("half a thought")
    send(page, "half a thought, finished")
    expect(bodies(page).last).to_have_text("half a thought, finished")
    page.reload()
    expect(page.locator("#message-input")).to_have_value("")
    page.goto(f"{server.url}/chats/{other}/")
    expect(page.locator("#message-input")).to_have_value("for the group")
    # Logging out forgets them (a shared computer keeps nothing).
    page.click(".topbar form button[type=submit]")
    expect(page).to_have_url(re.compile("/accounts/login/"))
    drafts = "Object.keys(localStorage).filter((k) => k.startsWith('chat-draft:'))"
    assert page.evaluate(drafts) == []
    bob.log_in()
    page.context.add_cookies(
        [{"name": "sessionid", "value": bob.http.cookies["sessionid"], "url": server.url}]
    )
    page.goto(f"{server.url}/chats/{other}/")
    expect(page.locator("#connection-state")).to_have_text("live")
    expect(page.locator("#message-input")).to_have_value("")

    # Near the limit a count shows; over it, nothing is cut and Send says no.
    limit = page.evaluate("JSON.parse(document.getElementById('chat-data').textContent).maxLength")
    page.locator("#message-input").fill("x" * (limit - 10))
    expect(page.locator("#char-count")).to_have_text(f"{limit - 10:,} / {limit:,}")
    page.locator("#message-input").fill("y" * (limit + 100))
    expect(page.locator("#char-count")).to_contain_text("100 characters too long")
    expect(page.locator("#send")).to_be_disabled()
    assert len(page.locator("#message-input").input_value()) == limit + 100
    page.locator("#message-input").press("Enter")
    expect(page.locator("#messages .message")).to_have_count(0)
    # Emoji count once each, as the server counts them.
    page.locator("#message-input").fill("x" * (limit - 5) + "😀" * 5)
    expect(page.locator("#char-count")).to_have_text(f"{limit:,} / {limit:,}")
    expect(page.locator("#send")).to_be_enabled()
    page.locator("#message-input").fill("fits")
    expect(page.locator("#char-count")).to_be_hidden()
    expect(page.locator("#send")).to_be_enabled()
    assert page.errors == [], page.errors


def test_the_keyboard_reaches_every_message_without_tabbing_through_them(server, browser):
    alice, bob = people(server, 2)
    chat_id = alice.direct_chat(bob)
    for n in range(30):
        who = alice if n % 2 else bob
        who.api("POST", f"/api/chats/{chat_id}/messages", json={"message": f"line {n}"})
    page = open_page(browser, server, bob, f"/chats/{chat_id}/")
    expect(page.locator("#messages .message")).to_have_count(30)
    box = page.locator("#message-input")
    expect(box).to_be_focused()
    # The conversation is one Tab stop, whatever the number of messages and their buttons.
    stops = page.evaluate(
        "() => [...document.querySelectorAll('#messages *')].filter((e) => e.tabIndex >= 0).length"
    )
    assert stops == 1
    # A skip link, shown when focused: to the message box here, to the content elsewhere.
    page.focus(".skip-link")
    expect(page.locator(".skip-link")).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(box).to_be_focused()
    listing = page.context.new_page()
    listing.goto(server.url + "/")
    listing.keyboard.press("Tab")
    expect(listing.locator(".skip-link")).to_be_focused()
    expect(listing.locator(".skip-link")).to_be_in_viewport()
    listing.keyboard.press("Enter")
    expect(listing.locator("main")).to_be_focused()
    listing.close()
    # Up from the empty box: the newest message; arrows move between messages.
    box.press("ArrowUp")
    newest = page.locator("#messages .message").last
    expect(newest).to_be_focused()
    page.keyboard.press("ArrowUp")
    mine = page.locator("#messages .message").nth(28)
    expect(mine).to_be_focused()
    # Enter reaches its buttons; arrows move among them; React opens the palette.
    page.keyboard.press("Enter")
    expect(mine.locator("button.reply")).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(mine.locator("button.react")).to_be_focused()
    page.keyboard.press("Enter")
    palette = mine.locator(".palette button")
    expect(palette.first).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(mine.locator(".reaction")).to_have_text(["❤️ 1"])
    expect(mine.locator("button.react")).to_be_focused()  # the palette gave focus back
    # Edit, then Escape: back to the message box.
    mine.focus()
    page.keyboard.press("Enter")
    expect(mine.locator(".reaction")).to_be_focused()  # its reactions come first
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(mine.locator("button.edit")).to_be_focused()
    page.keyboard.press("Enter")
    expect(mine.locator("textarea.editor")).to_be_focused()
    page.keyboard.press("Escape")
    expect(box).to_be_focused()
    # Escape from a message goes back to the message box too.
    box.press("ArrowUp")
    expect(newest).to_be_focused()
    page.keyboard.press("Escape")
    expect(box).to_be_focused()
    # Tab from the message box's neighbours comes back through one stop for the conversation.
    box.press("Shift+Tab")
    focused = page.evaluate("document.activeElement.closest('#messages') !== null")
    assert focused or page.evaluate("document.activeElement.id") in {"jump-latest", "load-older"}
    assert page.errors == [], page.errors


def test_reactions_edits_and_deletes_made_offline_are_sent_when_back(server, browser):
    alice, bob = people(server, 2)
    chat_id = alice.direct_chat(bob)
    other = start_group(alice, "Elsewhere", bob)
    messages = f"/api/chats/{chat_id}/messages"
    bob.api("POST", messages, json={"message": "from bob"})
    for text in ("typo hree", "delete me"):
        alice.api("POST", messages, json={"message": text})
    page = open_page(browser, server, alice, f"/chats/{chat_id}/", init_script=SOCKET_SWITCH)
    page.on("dialog", lambda dialog: dialog.accept())
    shown = page.locator("#messages .message")
    expect(shown).to_have_count(3)
    page.evaluate("window.__dropSockets()")
    expect(page.locator("#connection-banner")).to_contain_text("Reconnecting")
    # A reaction, an edit and a delete while the connection is down: each says it waits.
    shown.nth(0).hover()
    shown.nth(0).locator("button.react").click()
    shown.nth(0).locator(".palette button").first.click()
    shown.nth(1).hover()
    shown.nth(1).locator("button.edit").click()
    shown.nth(1).locator("textarea.editor").fill("typo here")
    shown.nth(1).locator("textarea.editor").press("Enter")
    expect(shown.nth(1).locator(".body")).to_have_text("typo here")
    shown.nth(2).hover()
    shown.nth(2).locator("button.delete").click()
    expect(page.locator("#messages .message.waiting")).to_have_count(3)
    # Opening another chat while offline: the app says so and opens it once back.
    item(page, other).locator("a").click()
    expect(page.locator("#connection-banner")).to_contain_text("opens as soon as the connection")
    assert page.url.endswith(f"/chats/{chat_id}/")
    screenshot(page, "offline-waiting")
    page.evaluate("window.__blockSockets = false")
    expect(page).to_have_url(re.compile(f"/chats/{other}/$"), timeout=20000)
    # Any of the app's links waits the same way (here the top bar's, to the list).
    expect(page.locator("#connection-state")).to_have_text("live")
    page.evaluate("window.__dropSockets()")
    expect(page.locator("#connection-banner")).to_contain_text("Reconnecting")
    page.click(".topbar .brand")
    expect(page.locator("#connection-banner")).to_contain_text("that page opens as soon as")
    page.evaluate("window.__blockSockets = false")
    expect(page).to_have_url(server.url + "/", timeout=20000)
    history = {m["message"] or "(deleted)": m for m in bob.history(chat_id)}
    assert history["from bob"]["reactions"][0]["emoji"] == "👍"
    assert history["typo here"]["edited"]
    assert history["(deleted)"]["deleted"]
    assert "typo hree" not in history and "delete me" not in history
    # The browser itself offline (no socket close seen by the server yet): the page knows at
    # once, queues, and a chat clicked waits.
    page.goto(f"{server.url}/chats/{chat_id}/")
    expect(page.locator("#connection-state")).to_have_text("live")
    page.context.set_offline(True)
    expect(page.locator("#connection-state")).to_have_text("reconnecting…")
    first = page.locator("#messages .message").first
    first.hover()
    first.locator("button.react").click()
    first.locator(".palette button").nth(1).click()
    expect(first).to_have_class(re.compile("waiting"))
    item(page, other).locator("a").click()
    expect(page.locator("#connection-banner")).to_contain_text("opens as soon as the connection")
    page.context.set_offline(False)
    expect(page).to_have_url(re.compile(f"/chats/{other}/$"), timeout=20000)
    reactions = {r["emoji"] for r in bob.history(chat_id)[0]["reactions"]}
    assert reactions == {"👍", "❤️"}
    assert page.errors == [], page.errors


# WCAG's contrast ratio of an element's text colour on its (first opaque ancestor's) background.
CONTRAST = """(e) => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let back = e;
  while (back && rgb(getComputedStyle(back).backgroundColor)[3] === 0) back = back.parentElement;
  const fg = lum(rgb(getComputedStyle(e).color));
  const bg = lum(rgb(getComputedStyle(back).backgroundColor));
  return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
}"""

REFUSED_NOTIFICATIONS = """
window.Notification = class {
  static get permission() { return window.__answered ? "denied" : "default"; }
  static requestPermission() { window.__answered = true; return Promise.resolve("denied"); }
};
"""


def test_a_dense_readable_conversation_that_opens_at_the_first_unread(server, browser):
    alice, bob = people(server, 2)
    chat_id = alice.direct_chat(bob)
    messages = f"/api/chats/{chat_id}/messages"
    for n in range(40):
        alice.api("POST", messages, json={"message": f"earlier {n}"})
    page = open_page(browser, server, bob, f"/chats/{chat_id}/")
    expect(page.locator("#messages .message")).to_have_count(40)
    # Read up to here (the page marks what it shows as read), then more arrive while away.
    for _ in range(100):
        if all(m["read"] for m in alice.history(chat_id)):
            break
        page.wait_for_timeout(100)
    page.goto(server.url + "/")
    for n in range(60):  # more than the first page holds
        alice.api("POST", messages, json={"message": f"new {n}"})
    page.goto(f"{server.url}/chats/{chat_id}/")
    divider = page.locator("#messages .unread-divider")
    expect(divider).to_contain_text("New messages")
    # Opened at the first unread, not at the bottom.
    expect(divider).to_be_in_viewport()
    expect(page.locator("#messages .message").last).not_to_be_in_viewport()
    # One header for a sender's run of messages: no repeated name, avatar or time.
    run = page.locator("#messages .message.continued")
    assert run.count() >= 90
    expect(run.first.locator(".meta")).to_be_hidden()
    # Bubbles fit their text.
    bubble = page.locator("#messages .message").filter(has_text="new 3").first.bounding_box()
    pane = page.locator("#scroller").bounding_box()
    assert bubble["width"] < pane["width"] * 0.3, (bubble, pane)
    # Bob's own messages: receipts readable (WCAG AA) on his bubbles, in every state.
    send(page, "on my way")
    receipt = page.locator("#messages .message.mine .receipt").last
    expect(receipt).to_have_attribute("data-state", re.compile("sent|delivered|read"))
    assert receipt.evaluate(CONTRAST) >= 4.5
    alice_page = open_page(browser, server, alice, f"/chats/{chat_id}/")
    expect(receipt).to_have_attribute("data-state", "read", timeout=10000)
    assert receipt.evaluate(CONTRAST) >= 4.5
    screenshot(page, "first-unread")
    # Notifications refused: the switch says why instead of doing nothing.
    refusing = open_page(
        browser, server, bob, f"/chats/{chat_id}/", init_script=REFUSED_NOTIFICATIONS
    )
    refusing.click("#notify-toggle")
    expect(refusing.locator("#notify-status")).to_contain_text("blocked")
    expect(refusing.locator("#notify-toggle")).to_have_text("Notifications blocked")
    # No page logs an error.
    for path in ("/", "/search/?q=new", f"/chats/{chat_id}/"):
        refusing.goto(server.url + path)
        expect(refusing.locator("#connection-state")).to_have_text("live")
    anonymous = browser.new_context().new_page()
    errors = []
    anonymous.on("console", lambda m: m.type == "error" and errors.append(m.text))
    for path in ("/accounts/login/", "/accounts/signup/"):
        anonymous.goto(server.url + path)
    for each in (page, alice_page, refusing):
        assert each.errors == [], each.errors
    assert errors == [], errors


def test_an_edit_the_server_refuses_puts_the_message_back_and_says_why(tmp_path, browser):
    with daphne_server(tmp_path, CHAT_EDIT_WINDOW_SECONDS="2") as server:
        alice, bob = people(server, 2)
        chat_id = alice.direct_chat(bob)
        alice.api("POST", f"/api/chats/{chat_id}/messages", json={"message": "as it was"})
        page = open_page(browser, server, alice, f"/chats/{chat_id}/")
        mine = page.locator("#messages .message").first
        expect(mine.locator(".body")).to_have_text("as it was")
        page.wait_for_timeout(2500)  # the edit window has closed
        mine.hover()
        mine.locator("button.edit").click()
        mine.locator("textarea.editor").fill("too late")
        mine.locator("textarea.editor").press("Enter")
        expect(mine.locator(".why")).to_be_visible()
        expect(mine.locator(".body")).to_have_text("as it was")
        expect(mine.locator(".edited")).to_have_count(0)
        expect(mine).not_to_have_class(re.compile("waiting"))
        assert [m["message"] for m in bob.history(chat_id)] == ["as it was"]


def test_a_short_message_s_buttons_float_above_it_in_one_row(server, browser):
    alice, bob = people(server, 2)
    chat_id = alice.direct_chat(bob)
    for text in ("ok", "k"):
        alice.api("POST", f"/api/chats/{chat_id}/messages", json={"message": text})
    page = open_page(browser, server, alice, f"/chats/{chat_id}/")
    short = page.locator("#messages .message").last
    short.hover()
    bar = short.locator(".actions").bounding_box()
    reply = short.locator("button.reply").bounding_box()
    bubble = short.bounding_box()
    assert bar["height"] < 40 and reply["width"] > reply["height"], (bar, reply)
    assert bar["y"] + bar["height"] <= bubble["y"] + 8, (bar, bubble)  # above, not over, it
    page.mouse.click(bubble["x"] + bubble["width"] / 2, bubble["y"] + bubble["height"] / 2)
    expect(short.locator("textarea.editor")).to_have_count(0)
    # The first message's buttons are inside the conversation's box, not cut off.
    top = page.locator("#messages .message").first
    top.hover()
    scroller = page.locator("#scroller").bounding_box()
    assert top.locator(".actions").bounding_box()["y"] >= scroller["y"]


def test_a_rename_on_a_phone_shows_on_what_the_open_chat_sends_next(server, browser):
    """Renamed on the Settings page (at phone width, which it fits) while the chat is open in
    another tab: the next message from that tab reaches the others under the new name."""
    alice, bob = people(server, 2)
    group = start_group(alice, "Trip", bob)
    phone = {"viewport": {"width": 360, "height": 700}}
    chat_tab = open_page(browser, server, alice, f"/chats/{group}/", **phone)
    bobs = open_page(browser, server, bob, f"/chats/{group}/", **phone)
    settings = chat_tab.context.new_page()
    settings.goto(server.url + "/settings/")
    new_name = "alicia" + alice.username[-6:]
    settings.get_by_label("Username").fill(new_name)
    settings.get_by_role("button", name="Change name").click()
    expect(settings.locator(".notice")).to_contain_text(f"You are now {new_name}.")
    layout = settings.evaluate(OVERFLOW)
    assert layout["scroll"] <= 360 and layout["wide"] == [], layout
    chat_tab.fill("#message-input", "sent after the rename")
    chat_tab.click("#send")
    said = bobs.locator("#messages .message", has_text="sent after the rename")
    expect(said.locator(".author")).to_have_text(new_name)
    assert chat_tab.errors == [] and bobs.errors == [], (chat_tab.errors, bobs.errors)


def test_a_chat_added_while_the_server_is_busy_fills_in_once_it_answers(server, browser):
    """The list asks for a chat it was just added to; a busy answer (503) is asked again, so
    its message and unread count still show without a reload."""
    alice, bob = people(server, 2)
    page = open_page(browser, server, bob, "/")
    refused = []

    def busy_once(route):
        if refused:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.fulfill(status=503, content_type="application/json", body='{"detail": "busy"}')

    page.route(re.compile(r".*/api/chats/[0-9a-f-]{36}$"), busy_once)
    group = start_group(alice, "Busy", bob)
    alice.api("POST", f"/api/chats/{group}/messages", json={"message": "still here"})
    expect(item(page, group).locator(".unread")).to_have_text("1")
    expect(item(page, group).locator(".last-message")).to_contain_text("still here")
    assert len(refused) == 1, refused
