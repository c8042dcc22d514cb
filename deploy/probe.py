"""Is the site up, seen from outside: its health check, its sign-in page and a WebSocket
handshake through the load balancer and nginx to the app. Standard library only: the same file
is `python -m deploy smoke STAGE` on an operator's machine and the stack's Synthetics canary
(``handler``), which runs it every five minutes."""

import base64
import http.client
import os
import secrets
import ssl
import urllib.parse

TIMEOUT = 10


class ProbeFailed(Exception):
    """A step of the probe failed; its message says which and what came back."""


def _connection(url: urllib.parse.SplitResult, timeout: float):
    port = url.port or (443 if url.scheme == "https" else 80)
    if url.scheme == "https":
        return http.client.HTTPSConnection(
            url.hostname, port, timeout=timeout, context=ssl.create_default_context()
        )
    return http.client.HTTPConnection(url.hostname, port, timeout=timeout)


def _get(site: str, path: str, headers: dict, timeout: float) -> tuple[int, dict, bytes]:
    url = urllib.parse.urlsplit(site)
    connection = _connection(url, timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": "chat-probe", **headers})
        response = connection.getresponse()
        body = response.read(65536) if response.status != 101 else b""
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


def steps(site: str, timeout: float = TIMEOUT):
    """Run each step; yield (name, detail) for those that pass, raise ProbeFailed at the first
    that does not."""
    site = site.rstrip("/")
    status, _, body = _get(site, "/health/", {}, timeout)
    if status != 200:
        raise ProbeFailed(f"health check: /health/ answered {status}: {body[:200]!r}")
    yield "health check", "/health/ answered 200"

    status, headers, body = _get(site, "/accounts/login/", {"Accept": "text/html"}, timeout)
    if status != 200 or b'name="password"' not in body:
        raise ProbeFailed(f"sign-in page: /accounts/login/ answered {status} without its form")
    if "csrftoken" not in headers.get("set-cookie", ""):
        raise ProbeFailed("sign-in page: no CSRF cookie was set")
    yield "sign-in page", "/accounts/login/ answered 200 with its form"

    key = base64.b64encode(secrets.token_bytes(16)).decode()
    status, headers, _ = _get(
        site, "/ws/",
        {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
         "Sec-WebSocket-Key": key, "Origin": site},
        timeout,
    )  # fmt: skip
    # Signed out, the app refuses the socket (403) once the upgrade has reached it; 101 would
    # be a socket opened. A proxy that drops the upgrade answers 400, 426 or 502 instead.
    if status not in (101, 403):
        raise ProbeFailed(f"WebSocket handshake: /ws/ answered {status} (expected 101 or 403)")
    yield "WebSocket handshake", f"/ws/ upgrade reached the app (it answered {status}: signed out)"


def handler(event=None, context=None):
    """The Synthetics canary's entry point: any failed step fails the run."""
    site = os.environ["CHAT_SITE"]
    for name, detail in steps(site):
        print(f"{name}: {detail}")
    return "ok"
