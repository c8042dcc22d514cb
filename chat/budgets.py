"""Attempt budgets for the account pages, counted in the cache (Redis when configured, so every
process counts against the same budget): failed log-ins per username and per address, and
sign-ups per address."""

import hashlib

from django.conf import settings
from django.core.cache import cache


class Budget:
    """At most ``settings.<limit>`` attempts per key within ``window`` seconds of the first."""

    def __init__(self, name: str, *, limit: str, window: int):
        self.name, self.setting, self.window = name, limit, window

    @property
    def limit(self) -> int:
        return getattr(settings, self.setting)

    def _key(self, key: str) -> str:
        return f"budget:{self.name}:{hashlib.sha256(key.encode()).hexdigest()}"

    def exhausted(self, key: str) -> bool:
        return cache.get(self._key(key), 0) >= self.limit

    def spend(self, key: str) -> None:
        name = self._key(key)
        if not cache.add(name, 1, self.window):
            try:
                cache.incr(name)
            except ValueError:  # expired between the two calls
                cache.add(name, 1, self.window)

    def reset(self, key: str) -> None:
        cache.delete(self._key(key))


FAILED_LOGINS_PER_USERNAME = Budget(
    "login-username", limit="CHAT_LOGIN_FAILURES_PER_USERNAME", window=15 * 60
)
FAILED_LOGINS_PER_ADDRESS = Budget(
    "login-address", limit="CHAT_LOGIN_FAILURES_PER_ADDRESS", window=15 * 60
)
SIGNUPS_PER_ADDRESS = Budget("signup-address", limit="CHAT_SIGNUPS_PER_ADDRESS", window=60 * 60)


def client_address(request) -> str:
    """The client's address (the proxy's X-Forwarded-For is applied by the ASGI server)."""
    return request.META.get("REMOTE_ADDR") or ""
