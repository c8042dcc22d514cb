"""Debian's Chromium driven by Playwright (never a downloaded browser)."""

import shutil

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
