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
