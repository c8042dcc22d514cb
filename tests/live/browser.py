"""Debian's Chromium driven by Playwright (never a downloaded browser), and what the browser
tests share: a daphne server, people's pages, their messages and screenshots."""

import contextlib
import shutil
import uuid

from playwright.sync_api import expect, sync_playwright

from tests.servers import ROOT, Daphne, migrated, server_database, server_env

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def launch(playwright):
    """Start headless Chromium; fail with the fix when it is not installed."""
    if not shutil.which("chromium"):
        raise AssertionError(
            "Browser tests need Debian's Chromium: apt-get install -y chromium "
            "(`make test` installs it under CI)."
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def logged_in_context(browser, base_url: str, user, *, init_script: str = "", **options):
    """A browser context with the session of ``user`` (a LiveUser); ``init_script`` runs first
    in each of its pages."""
    context = browser.new_context(**options)
    cookie = user.http.cookies["sessionid"]
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": base_url}])
    if init_script:
        context.add_init_script(init_script)
    return context


PASSWORD = "browser-test-password-42"


@contextlib.contextmanager
def daphne_server(tmp_path, **env):
    with server_database(tmp_path) as database_url:
        env = server_env(database_url, **env)
        migrated(env)
        daphne = Daphne(env, tmp_path / "daphne.log").start()
        try:
            yield daphne
        finally:
            daphne.stop()


def name():
    return f"u{uuid.uuid4().hex[:10]}"


@contextlib.contextmanager
def live_pages(server, users, path):
    """A page at ``path`` for each of ``users`` (LiveUsers; each its own browser context and
    session), once connected."""
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            pages = []
            for user in users:
                context = logged_in_context(browser, server.url, user)
                page = context.new_page()
                page.goto(f"{server.url}{path}")
                expect(page.locator("#connection-state")).to_have_text("live")
                pages.append(page)
            yield pages
        finally:
            browser.close()


@contextlib.contextmanager
def live_page(server, user, path):
    """A browser page at ``path`` with the session of ``user`` (a LiveUser), once connected."""
    with live_pages(server, [user], path) as (page,):
        yield page


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
    """The messages shown as sent (not pending, not refused)."""
    return page.locator("#messages .message:not(.pending):not(.failed) .body")


# Pages may be cut off from the server on demand: sockets opened while ``__blockSockets`` is set
# go to a path the server refuses, and ``__dropSockets()`` closes the open ones.
SOCKET_SWITCH = """
window.__blockSockets = false;
window.__sockets = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(url, protocols) {
    super(window.__blockSockets ? url.replace("/ws/", "/ws-blocked/") : url, protocols);
    window.__sockets.push(this);
  }
};
window.__dropSockets = () => {
  window.__blockSockets = true;
  for (const socket of window.__sockets) socket.close();
};
"""


def screenshot(page, name: str) -> None:
    """Keep what the page looked like (var/screenshots/, kept by CI as a test artifact)."""
    folder = ROOT / "var" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


# The page's visibility and the Notification API, under the test's control.
HIDDEN_AND_NOTIFICATIONS = """
window.__hidden = false;
Object.defineProperty(document, "hidden", { get: () => window.__hidden });
Object.defineProperty(document, "visibilityState", {
  get: () => (window.__hidden ? "hidden" : "visible"),
});
window.__setHidden = (hidden) => {
  window.__hidden = hidden;
  document.dispatchEvent(new Event("visibilitychange"));
};
window.__notes = [];
window.__asked = 0;
window.Notification = class {
  constructor(title, options) { window.__notes.push([title, options.body]); }
  static get permission() { return window.__asked ? "granted" : "default"; }
  static requestPermission() { window.__asked += 1; return Promise.resolve("granted"); }
};
"""
