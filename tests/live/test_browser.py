"""Two people chat in two browsers, as a newcomer would try it after `make run`."""

import re
import subprocess
import sys
import uuid

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.files import png
from tests.live import users
from tests.live.browser import (
    HIDDEN_AND_NOTIFICATIONS,
    SOCKET_SWITCH,
    bodies,
    daphne_server,
    launch,
    live_page,
    live_pages,
    logged_in_context,
    name,
    screenshot,
    send,
    sign_up,
)
from tests.live.users import LiveUser
from tests.servers import ROOT

pytestmark = [pytest.mark.live, pytest.mark.browser]


@pytest.fixture
def server(tmp_path):
    with daphne_server(tmp_path) as daphne:
        yield daphne


def test_two_browsers_chat_live_and_history_survives_reload_and_restart(server):
    alice, bob = f"alice{uuid.uuid4().hex[:6]}", f"bob{uuid.uuid4().hex[:6]}"
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page_a = browser.new_context().new_page()
            page_b = browser.new_context().new_page()
            sign_up(page_a, server.url, alice)
            sign_up(page_b, server.url, bob)

            # Bob's page is open before the chat exists: a first-run empty state.
            page_b.goto(server.url + "/")
            expect(page_b.locator("#connection-state")).to_have_text("live")
            expect(page_b.locator("#chat-list li.empty")).to_contain_text("New chat")

            # Alice starts the chat from the "New chat" dialog.
            page_a.click("#new-chat-open")
            expect(page_a.locator("#new-chat-dialog")).to_be_visible()
            expect(page_a.locator("#id_name")).to_be_hidden()  # one person: no group name
            page_a.fill("#id_usernames", bob)
            page_a.click("#new-chat button[type=submit]")
            expect(page_a).to_have_url(re.compile(r"/chats/[0-9a-f-]+/$"))
            expect(page_a.locator("#connection-state")).to_have_text("live")

            # Bob's chat list shows the new chat live, with its last message and unread count.
            send(page_a, "Hello Bob")
            expect(bodies(page_a)).to_have_text(["Hello Bob"])
            listed = page_b.locator("#chat-list li").filter(has_text=alice)
            expect(listed.locator(".last-message")).to_contain_text("Hello Bob")
            expect(listed.locator(".unread")).to_have_text("1")
            expect(page_b.locator("#chat-list li.empty")).to_have_count(0)
            expect(page_b).to_have_title("(1) Chats")

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


def test_text_the_server_cannot_store_fails_on_its_message_and_the_page_stays_live(server):
    """A NUL or an unpaired surrogate typed (or pasted) into the composer: that message says it
    was not sent and why; the page stays connected and sends on (it used to reconnect forever,
    resending the message each time)."""
    alice, bob = (LiveUser(server.url, name()).sign_up().log_in() for _ in range(2))
    chat_id = alice.direct_chat(bob)
    with live_page(server, alice, f"/chats/{chat_id}/") as page:
        for script in ("'a\\u0000b'", "'x\\ud800y'"):
            page.eval_on_selector("#message-input", f"(el) => {{ el.value = {script}; }}")
            page.press("#message-input", "Enter")
        failed = page.locator("#messages .message.failed")
        expect(failed).to_have_count(2)
        expect(failed.locator(".why").first).to_contain_text("NUL")
        page.wait_for_timeout(2000)  # a reconnect loop would show here
        expect(page.locator("#connection-state")).to_have_text("live")
        send(page, "fine")
        expect(bodies(page)).to_have_text(["fine"])
        assert [m["message"] for m in alice.history(chat_id)] == ["fine"]


@pytest.fixture
def tight_server(tmp_path):
    """A server whose frame budget is far smaller than one user's chat list."""
    with daphne_server(tmp_path, CHAT_RATE_BURST="5", CHAT_RATE_PER_SECOND="3") as daphne:
        yield daphne


def test_the_chat_list_joins_every_chat_even_past_the_frame_budget(tight_server):
    server = tight_server
    alice, bob = (LiveUser(server.url, name()).sign_up().log_in() for _ in range(2))
    chats, bob_id = [], alice.find(bob)
    for n in range(15):
        body = {"chatType": "group", "participants": [bob_id], "chatName": f"room {n}"}
        chats.append(alice.api("POST", "/api/chats", json=body).json()["chatId"])
    with live_page(server, alice, "/") as page:
        # Most of the 15 joins are refused at first (5 frames at once); the page retries
        # them, so a message to any of the chats soon shows up live.
        page.wait_for_timeout(6000)
        for n in (0, 14):
            sent = bob.api("POST", f"/api/chats/{chats[n]}/messages", json={"message": f"to {n}"})
            assert sent.status_code == 201, sent.text
            item = page.locator(f'li[data-chat-id="{chats[n]}"]')
            expect(item.locator(".last-message")).to_contain_text(f"to {n}", timeout=10000)


def test_moderation_shows_in_an_open_page_at_once(server):
    """A moderator locks the room, deletes a message and ends the session in the admin while
    the member's page is open: the page turns read-only, shows the tombstone, and says it was
    signed out instead of reconnecting."""
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from django.contrib.auth import get_user_model; get_user_model().objects"
         f".create_superuser('moderator', password='{users.PASSWORD}')"],
        cwd=ROOT, env=server.env, check=True, timeout=60,
    )  # fmt: skip
    moderator = LiveUser(server.url, "moderator").log_in()
    alice, bob = (LiveUser(server.url, name()).sign_up().log_in() for _ in range(2))
    chat_id = alice.api(
        "POST", "/api/chats",
        json={"chatType": "group", "chatName": "club", "participants": [alice.find(bob)]},
    ).json()["chatId"]  # fmt: skip
    with live_page(server, alice, f"/chats/{chat_id}/") as page:
        send(page, "first")
        send(page, "second")
        expect(bodies(page)).to_have_text(["first", "second"])
        locked = moderator.api(
            "POST", "/admin/chat/chatroom/", data={"action": "lock", "_selected_action": [chat_id]}
        )
        assert locked.status_code == 302
        expect(page.locator("#chat-notice")).to_contain_text("read-only")
        expect(page.locator("#message-input")).to_be_disabled()
        removed = moderator.api(
            "POST", f"/admin/chat/chatroom/{chat_id}/messages/", data={"seq": "1"}
        )
        assert removed.status_code == 302
        expect(page.locator("#messages .message.deleted .body")).to_have_text(["message deleted"])
        banned = moderator.api(
            "POST", "/admin/auth/user/", data={"action": "ban", "_selected_action": [alice.user_id]}
        )
        assert banned.status_code == 302
        expect(page.locator("#connection-state")).to_have_text("account deactivated")
        page.wait_for_timeout(1500)  # no reconnect loop
        expect(page.locator("#connection-state")).to_have_text("account deactivated")


def test_files_wait_in_a_tray_with_previews_then_go_with_a_caption_and_show_for_both(server):
    import base64

    alice, bob = (LiveUser(server.url, name()).sign_up().log_in() for _ in range(2))
    chat_id = alice.direct_chat(bob)
    image = base64.b64encode(png(320, 200, colour=(30, 120, 200))).decode()
    with live_pages(server, [alice, bob], f"/chats/{chat_id}/") as (page_a, page_b):
        bobs_list = page_b.context.new_page()
        bobs_list.goto(server.url + "/")
        expect(bobs_list.locator("#connection-state")).to_have_text("live")
        requests = []
        page_a.on("request", lambda request: requests.append(request.url))
        # Uploads go slowly enough to watch their progress.
        page_a.route(
            "**/uploads/**", lambda route: (page_a.wait_for_timeout(700), route.continue_())
        )
        page_a.evaluate(
            """(data) => {
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                const transfer = new DataTransfer();
                transfer.items.add(new File([bytes], "sunset.png", { type: "image/png" }));
                transfer.items.add(new File(["plan"], "plan.txt", { type: "text/plain" }));
                const zone = document.querySelector(".chat");
                const options = { dataTransfer: transfer, bubbles: true, cancelable: true };
                zone.dispatchEvent(new DragEvent("dragover", options));
                zone.dispatchEvent(new DragEvent("drop", options));
            }""",
            image,
        )
        # Nothing is sent yet: the files wait in the tray, the picture previewed.
        tray = page_a.locator("#tray")
        expect(tray.locator(".tray-file")).to_have_count(2)
        expect(tray.locator(".tray-file img")).to_have_count(1)
        assert page_a.eval_on_selector("#tray img", "(img) => img.naturalWidth") == 320
        expect(page_a.locator("#messages .message")).to_have_count(0)
        assert not [url for url in requests if "/upload" in url]
        # One of them removed; a caption written; Send.
        tray.get_by_role("button", name="Remove plan.txt").click()
        expect(tray.locator(".tray-file")).to_have_count(1)
        send(page_a, "the view from the top")
        expect(tray).to_be_hidden()
        expect(page_a.locator("#messages .message.pending progress")).to_be_visible()
        for page in (page_a, page_b):
            shown = page.locator("#messages .message").filter(has=page.locator(".attachment-image"))
            expect(shown.locator("img")).to_have_attribute("alt", "sunset.png")
            expect(shown.locator(".body")).to_have_text("the view from the top")
        expect(page_a.locator("#messages .message.pending")).to_have_count(0)
        # A picture without a caption: the chat list says "Photo".
        page_a.evaluate(
            """(data) => {
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                const transfer = new DataTransfer();
                transfer.items.add(new File([bytes], "dusk.png", { type: "image/png" }));
                const zone = document.querySelector(".chat");
                const options = { dataTransfer: transfer, bubbles: true, cancelable: true };
                zone.dispatchEvent(new DragEvent("drop", options));
            }""",
            image,
        )
        page_a.click("#send")
        last = bobs_list.locator(f'#chat-list li[data-chat-id="{chat_id}"] .last-message')
        expect(last).to_contain_text("Photo")
        for page in (page_a, page_b):
            page.reload()
            expect(page.locator("#messages .attachment-image img")).to_have_count(2)
            # The thumbnail is served to this member: it loads (a preview still being made is
            # waited for by the server, so under load it may take a few seconds).
            page.wait_for_function(
                """() => {
                    const img = document.querySelector("#messages .attachment-image img");
                    return img && img.complete && img.naturalWidth > 0;
                }""",
                timeout=20000,
            )
        bobs_list.reload()
        expect(last).to_contain_text("Photo")
        # A file over the limit is refused in the tray, before any upload starts, and dismissed.
        requests.clear()
        page_a.set_input_files(
            "#file-input",
            files=[
                {
                    "name": "huge.png",
                    "mimeType": "image/png",
                    "buffer": b"\x89PNG" + b"0" * 20_000_000,
                }
            ],
        )
        refused = page_a.locator("#tray .tray-file.refused")
        expect(refused).to_contain_text("Too big")
        assert not [url for url in requests if "/upload" in url]
        refused.get_by_role("button", name="Dismiss: huge.png").click()
        expect(page_a.locator("#tray")).to_be_hidden()
        # An upload that fails leaves a message that says so and can be dismissed.
        page_a.route("**/api/upload-url", lambda route: route.fulfill(
            status=503, content_type="application/json", body='{"detail": "Uploads are down."}'
        ))  # fmt: skip
        page_a.set_input_files(
            "#file-input", files=[{"name": "a.txt", "mimeType": "text/plain", "buffer": b"hi"}]
        )
        page_a.click("#send")
        failed = page_a.locator("#messages .message.failed")
        expect(failed.locator(".why")).to_contain_text("Uploads are down.")
        failed.get_by_role("button", name="Dismiss this message that was not sent").click()
        expect(page_a.locator("#messages .message.failed")).to_have_count(0)
        expect(page_a.locator("#message-input")).to_be_focused()
        # Retry sends it again once uploads are back: the file arrives, once.
        page_a.set_input_files(
            "#file-input", files=[{"name": "b.txt", "mimeType": "text/plain", "buffer": b"hi"}]
        )
        page_a.click("#send")
        expect(failed.locator(".why")).to_contain_text("Uploads are down.")
        page_a.unroute("**/api/upload-url")
        failed.get_by_role("button", name="Retry").click()
        expect(page_a.locator("#messages .message.failed")).to_have_count(0)
        expect(page_b.locator("#messages .attachment-file", has_text="b.txt")).to_have_count(1)


def test_load_older_shows_only_while_there_is_more_and_keeps_keyboard_focus(server):
    alice, bob = (LiveUser(server.url, name()).sign_up().log_in() for _ in range(2))
    empty = alice.direct_chat(bob)
    with live_page(server, alice, f"/chats/{empty}/") as page:
        expect(page.locator("#load-older")).to_be_hidden()
        busy = alice.api(
            "POST", "/api/chats",
            json={"chatType": "group", "chatName": "busy", "participants": [alice.find(bob)]},
        ).json()["chatId"]  # fmt: skip
        for n in range(60):
            sent = alice.api("POST", f"/api/chats/{busy}/messages", json={"message": f"m{n}"})
            assert sent.status_code == 201
        page.goto(f"{server.url}/chats/{busy}/")
        expect(page.locator("#connection-state")).to_have_text("live")
        older = page.locator("#load-older")
        expect(older).to_be_visible()
        older.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#messages .message")).to_have_count(60)
        expect(older).to_be_hidden()  # the first message is reached
        # Focus stays in the conversation: on its first message, the conversation's Tab stop.
        first = page.locator("#messages .message").first
        expect(first).to_be_focused()
        expect(first).to_have_attribute("tabindex", "0")


def test_typing_stops_showing_when_that_persons_message_arrives(server):
    alice, bob = (LiveUser(server.url, name()).sign_up().log_in() for _ in range(2))
    chat_id = alice.direct_chat(bob)
    with live_pages(server, [alice, bob], f"/chats/{chat_id}/") as (page_a, page_b):
        page_b.type("#message-input", "on my way")
        expect(page_a.locator("#typing")).to_contain_text("is typing")
        page_b.press("#message-input", "Enter")
        expect(bodies(page_a)).to_have_text(["on my way"])
        # At once, not when the typing notice runs out 3 s later.
        expect(page_a.locator("#typing")).to_have_text("", timeout=1000)


def test_the_chat_list_catches_up_after_a_reconnect_and_follows_reads_in_other_tabs(server):
    alice, bob = (LiveUser(server.url, name()).sign_up().log_in() for _ in range(2))
    chat_id = alice.direct_chat(bob)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = logged_in_context(browser, server.url, alice, init_script=SOCKET_SWITCH)
            listing = context.new_page()
            listing.goto(server.url + "/")
            expect(listing.locator("#connection-state")).to_have_text("live")
            row = listing.locator(f'li[data-chat-id="{chat_id}"]')
            # Cut off, the list misses these; back online, it catches up.
            listing.evaluate("window.__dropSockets()")
            expect(listing.locator("#connection-state")).to_have_text("reconnecting…")
            for n in range(3):
                bob.api(
                    "POST", f"/api/chats/{chat_id}/messages", json={"message": f"while away {n}"}
                )
            listing.evaluate("window.__blockSockets = false")
            expect(listing.locator("#connection-state")).to_have_text("live", timeout=15000)
            expect(row.locator(".unread")).to_have_text("3")
            expect(row.locator(".last-message")).to_contain_text("while away 2")
            # Read in another tab: the list's count goes; her own message is "You".
            room = context.new_page()
            room.goto(f"{server.url}/chats/{chat_id}/")
            expect(room.locator("#connection-state")).to_have_text("live")
            expect(row.locator(".unread")).to_be_hidden()
            send(room, "back now")
            expect(row.locator(".last-message")).to_have_text("You: back now")
        finally:
            browser.close()


def test_a_member_edits_and_deletes_her_message_and_the_other_sees_it_live(server):
    alice, bob = (LiveUser(server.url, name()).sign_up().log_in() for _ in range(2))
    chat_id = alice.direct_chat(bob)
    with live_pages(server, [alice, bob], f"/chats/{chat_id}/") as (page_a, page_b):
        send(page_a, "see you at 5")
        send(page_a, "bring snacks")
        expect(bodies(page_b)).to_have_text(["see you at 5", "bring snacks"])
        first = page_a.locator("#messages .message").first
        first.hover()
        first.locator("button.edit").click()
        editor = first.locator("textarea.editor")
        editor.fill("see you at 6")
        editor.press("Enter")
        expect(bodies(page_b)).to_have_text(["see you at 6", "bring snacks"])
        expect(page_b.locator("#messages .message").first.locator(".edited")).to_be_visible()
        # Bob's own actions are on his messages only.
        expect(page_b.locator("#messages .message button.edit")).to_have_count(0)
        screenshot(page_b, "edited-message")
        page_a.on("dialog", lambda dialog: dialog.accept())
        last = page_a.locator("#messages .message").nth(1)
        last.hover()
        last.locator("button.delete").click()
        for page in (page_a, page_b):
            expect(page.locator("#messages .message.deleted .body")).to_have_text(
                ["message deleted"]
            )
        page_b.reload()
        expect(page_b.locator("#messages .message.deleted .body")).to_have_text(["message deleted"])
        expect(page_b.locator("#messages .message").first.locator(".body")).to_have_text(
            "see you at 6"
        )
        screenshot(page_b, "deleted-message")


def test_unread_messages_show_in_the_title_and_as_notifications_once_switched_on(server):
    alice, bob = (LiveUser(server.url, name()).sign_up().log_in() for _ in range(2))
    chat_id = alice.api(
        "POST", "/api/chats",
        json={"chatType": "group", "chatName": "Hikers", "participants": [alice.find(bob)]},
    ).json()["chatId"]  # fmt: skip
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = logged_in_context(
                browser, server.url, bob, init_script=HIDDEN_AND_NOTIFICATIONS
            )
            listing = context.new_page()
            listing.goto(server.url + "/")
            expect(listing.locator("#connection-state")).to_have_text("live")
            assert listing.evaluate("window.__asked") == 0  # never asked on load
            alice.api("POST", f"/api/chats/{chat_id}/messages", json={"message": "trail at 9"})
            expect(listing).to_have_title("(1) Chats")
            assert listing.evaluate("window.__notes") == []  # not switched on
            listing.click("#notify-toggle")
            expect(listing.locator("#notify-toggle")).to_have_text("Notifications on")
            alice.api("POST", f"/api/chats/{chat_id}/messages", json={"message": "bring water"})
            expect(listing).to_have_title("(2) Chats")
            notes = listing.evaluate("window.__notes")
            assert notes == [["Hikers", f"{alice.username}: bring water"]]
            # The chat page, hidden in a background tab: its title counts what arrives.
            room = context.new_page()
            room.goto(f"{server.url}/chats/{chat_id}/")
            expect(room.locator("#connection-state")).to_have_text("live")
            room.evaluate("window.__setHidden(true)")
            alice.api("POST", f"/api/chats/{chat_id}/messages", json={"message": "and snacks"})
            expect(room).to_have_title("(1) Hikers · Chat")
            # What reaches it by catch-up (sent while its socket was down) counts too, once.
            context.set_offline(True)
            expect(room.locator("#connection-state")).not_to_have_text("live")
            alice.api("POST", f"/api/chats/{chat_id}/messages", json={"message": "and a map"})
            context.set_offline(False)
            expect(room.locator(".message", has_text="and a map")).to_have_count(1)
            expect(room).to_have_title("(2) Hikers · Chat")
            room.evaluate("window.__setHidden(false)")
            expect(room).to_have_title("Hikers · Chat")
            screenshot(listing, "notifications-list")
        finally:
            browser.close()


def test_the_two_pane_app_on_a_desktop_and_a_phone(server):
    alice, bob = (LiveUser(server.url, name()).sign_up().log_in() for _ in range(2))
    chat_id = alice.direct_chat(bob)
    for n in range(3):
        alice.api("POST", f"/api/chats/{chat_id}/messages", json={"message": f"hi {n}"})
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            cookie = bob.http.cookies["sessionid"]
            desktop = browser.new_context(viewport={"width": 1280, "height": 800})
            desktop.add_cookies([{"name": "sessionid", "value": cookie, "url": server.url}])
            desktop.add_init_script(SOCKET_SWITCH)
            page = desktop.new_page()
            page.goto(f"{server.url}/chats/{chat_id}/")
            expect(page.locator("#connection-state")).to_have_text("live")
            # Both panes; the open chat marked in the list.
            expect(page.locator(".list-pane")).to_be_visible()
            expect(page.locator(f'#chat-list li.active[data-chat-id="{chat_id}"]')).to_be_visible()
            # One date separator and the "new messages" divider before Bob's first unread
            # (none read yet, so none shown); Alice's three messages grouped under one name.
            expect(page.locator("#messages .divider")).to_have_text(["Today"])
            expect(page.locator("#messages .message.continued")).to_have_count(2)
            expect(page.locator("#messages .message .avatar").first).to_be_visible()
            # The composer stays at the bottom of the window.
            box = page.locator("#composer").bounding_box()
            assert box["y"] + box["height"] > 800 - 60
            screenshot(page, "app-desktop")
            # Offline: a banner says so, and goes when the connection is back.
            page.evaluate("window.__dropSockets()")
            expect(page.locator("#connection-banner")).to_contain_text("Reconnecting")
            page.evaluate("window.__blockSockets = false")
            expect(page.locator("#connection-banner")).to_be_hidden(timeout=15000)
            # After reading (Alice sees her messages read), a new message from Alice comes under
            # a "New messages" divider on the next visit.
            expect(page.locator("#connection-state")).to_have_text("live")
            for _ in range(100):
                if all(m["read"] for m in alice.history(chat_id)):
                    break
                page.wait_for_timeout(100)
            assert all(m["read"] for m in alice.history(chat_id))
            page.goto(server.url + "/")
            alice.api("POST", f"/api/chats/{chat_id}/messages", json={"message": "news"})
            page.goto(f"{server.url}/chats/{chat_id}/")
            expect(page.locator("#messages .divider.unread-divider")).to_have_text("New messages")

            phone = browser.new_context(viewport={"width": 390, "height": 800})
            phone.add_cookies([{"name": "sessionid", "value": cookie, "url": server.url}])
            small = phone.new_page()
            small.goto(server.url + "/")
            expect(small.locator("#connection-state")).to_have_text("live")
            expect(small.locator(".conversation-pane")).to_be_hidden()
            screenshot(small, "app-phone-list")
            small.click(f'#chat-list li[data-chat-id="{chat_id}"] a')
            expect(small.locator(".list-pane")).to_be_hidden()
            expect(small.locator(".chat-header .back")).to_be_visible()
            screenshot(small, "app-phone-chat")
            small.click(".chat-header .back")
            expect(small).to_have_url(server.url + "/")
        finally:
            browser.close()


def test_a_group_is_renamed_grown_and_left_from_its_page(server):
    alice, bob, carol = (LiveUser(server.url, name()).sign_up().log_in() for _ in range(3))
    chat_id = alice.api(
        "POST", "/api/chats",
        json={"chatType": "group", "chatName": "Climbers", "participants": [alice.find(bob)]},
    ).json()["chatId"]  # fmt: skip
    with live_pages(server, [alice, bob], f"/chats/{chat_id}/") as (page_a, page_b):
        page_a.click("#group-panel summary")
        page_a.fill("#group-username", carol.username)
        page_a.click("#group-add button[type=submit]")
        expect(page_a.locator("#group-status")).to_contain_text("was added")
        for page in (page_a, page_b):
            expect(page.locator("#messages .message.system .body")).to_have_text(
                [f"{alice.username} added {carol.username}"]
            )
        page_b.click("#group-panel summary")
        page_b.fill("#group-name", "Boulderers")
        page_b.click("#group-rename button[type=submit]")
        expect(page_a.locator(".chat-title h1")).to_have_text("Boulderers")
        screenshot(page_a, "group-managed")
        page_b.on("dialog", lambda dialog: dialog.accept())
        page_b.click("#group-leave")
        expect(page_b).to_have_url(server.url + "/")
        expect(page_a.locator("#messages .message.system .body").last).to_have_text(
            f"{bob.username} left"
        )
