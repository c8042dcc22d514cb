"""An automated accessibility check (axe-core, vendored in tests/assets) of the pages people
use: no serious or critical violations of WCAG 2 A/AA rules."""

import uuid

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.live.browser import daphne_server, launch, logged_in_context, screenshot
from tests.live.users import LiveUser
from tests.servers import ROOT

pytestmark = [pytest.mark.live, pytest.mark.browser]

AXE = (ROOT / "tests" / "assets" / "axe.min.js").read_text()


@pytest.fixture
def server(tmp_path):
    with daphne_server(tmp_path) as daphne:
        yield daphne


def violations(page) -> list[str]:
    page.evaluate(AXE)
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, {
              runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
            });
            return result.violations
              .filter((v) => v.impact === "serious" || v.impact === "critical")
              .map((v) => {
                const where = v.nodes.map((n) => n.target.join(" ")).join(", ");
                return `${v.id} (${v.impact}): ${where}`;
              });
        }"""
    )
    return found


def test_the_main_pages_have_no_serious_accessibility_violations(server):
    alice, bob = (
        LiveUser(server.url, f"a{uuid.uuid4().hex[:8]}").sign_up().log_in() for _ in range(2)
    )
    chat_id = alice.direct_chat(bob)
    for n in range(2):
        alice.api("POST", f"/api/chats/{chat_id}/messages", json={"message": f"hello {n}"})
    # A reply (its quote) and a reaction are on the conversation page too.
    messages = f"/api/chats/{chat_id}/messages"
    first = bob.api("GET", messages, params={"limit": 1}).json()["messages"][0]["messageId"]
    reply = bob.api("POST", messages, json={"message": "hello back", "replyTo": first}).json()
    bob.api("PUT", f"{messages}/{reply['messageId']}/reactions/%F0%9F%91%8D")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            anonymous = browser.new_context(bypass_csp=True).new_page()
            found = {}
            for path in ("/accounts/login/", "/accounts/signup/"):
                anonymous.goto(server.url + path)
                found[path] = violations(anonymous)
                screenshot(anonymous, path.strip("/").split("/")[-1])  # "login", "signup"
            context = logged_in_context(browser, server.url, alice, bypass_csp=True)
            page = context.new_page()
            for path in ("/", f"/chats/{chat_id}/", "/search/?q=hello"):
                page.goto(server.url + path)
                expect(page.locator("#connection-state")).to_have_text("live")
                if path.startswith("/chats/"):
                    expect(page.locator("#messages .message")).to_have_count(3)
                    expect(page.locator("#messages .reaction")).to_have_count(1)
                    expect(page.locator("#messages .quote")).to_have_count(1)
                found[path] = violations(page)
                screenshot(
                    page,
                    "accessibility-"
                    + {"/": "list", "/search/?q=hello": "search"}.get(path, "chat"),
                )
            # The settings page, a new token's secret shown once and the token listed.
            page.goto(f"{server.url}/settings/")
            page.fill("#id_name", "laptop script")
            page.get_by_role("button", name="New token").click()
            expect(page.locator("#new-token")).to_be_visible()
            found["settings with a new token"] = violations(page)
            screenshot(page, "settings")
            # The "New chat" dialog open, files waiting in the tray, a message's buttons shown.
            page.goto(f"{server.url}/")
            page.click("#new-chat-open")
            page.fill("#id_usernames", f"{bob.username}, x")
            found["new chat dialog"] = violations(page)
            page.goto(f"{server.url}/chats/{chat_id}/")
            expect(page.locator("#messages .message")).to_have_count(3)
            page.set_input_files(
                "#file-input", files=[{"name": "a.txt", "mimeType": "text/plain", "buffer": b"a"}]
            )
            page.locator("#message-input").press("ArrowUp")
            page.keyboard.press("Enter")
            found["tray and message actions"] = violations(page)
            assert found == {path: [] for path in found}, found
        finally:
            browser.close()
