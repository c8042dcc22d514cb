"""Budgets of attempts, counted in the cache (Redis when configured, so every process counts
against the same budget) in fixed windows: one integer per key and window (``INCR`` on Redis).
A fixed window lets a client spend up to twice its budget across a window's boundary, which a
budget against floods and guessing can afford. Used by log-ins (chat.accounts), sign-ups per
address and the API's throttles (chat.api.throttling).
"""

import contextlib
import hashlib
import time

from django.conf import settings
from django.core.cache import cache


def _window(name: str, seconds: float, now: float) -> str:
    return f"{name}:{int(now // seconds)}"


def spent(name: str, seconds: float) -> int:
    """Attempts counted under ``name`` in the current window of ``seconds``."""
    return cache.get(_window(name, seconds, time.time()), 0)


def spend(name: str, seconds: float) -> int:
    """Count one more attempt under ``name`` in the current window of ``seconds``; the count so
    far."""
    return spend_in(_window(name, seconds, time.time()), seconds)


def spend_in(key: str, seconds: float) -> int:
    """Count one more attempt in the window entry ``key`` (of a window of ``seconds``)."""
    try:
        return cache.incr(key)
    except ValueError:  # the window's first attempt (or its entry just expired)
        if cache.add(key, 1, int(seconds) + 1):
            return 1
        return cache.incr(key)


class Budget:
    """At most ``settings.<limit>`` attempts per key in a window of ``window`` seconds."""

    def __init__(self, name: str, *, limit: str, window: int):
        self.name, self.setting, self.window = name, limit, window

    @property
    def limit(self) -> int:
        return getattr(settings, self.setting)

    def _key(self, key: str) -> str:
        return f"budget:{self.name}:{hashlib.sha256(key.encode()).hexdigest()}"

    def exhausted(self, key: str) -> bool:
        return spent(self._key(key), self.window) >= self.limit

    def spend(self, key: str) -> None:
        spend(self._key(key), self.window)

    def take(self, key: str) -> tuple[int, str]:
        """Count one attempt now (atomically): the count so far, this one included (over
        ``limit`` means this attempt is refused), and the window's entry it was counted in."""
        counted = _window(self._key(key), self.window, time.time())
        return spend_in(counted, self.window), counted

    def give_back(self, counted: str) -> None:
        """Uncount an attempt ``take`` counted in the entry ``counted`` (it turned out not to
        be a failure): in its own window, even if the next has begun."""
        with contextlib.suppress(ValueError):  # that window's entry has expired
            cache.decr(counted)

    def reset(self, key: str) -> None:
        cache.delete(_window(self._key(key), self.window, time.time()))


SIGNUPS_PER_ADDRESS = Budget("signup-address", limit="CHAT_SIGNUPS_PER_ADDRESS", window=60 * 60)


def client_address(request) -> str:
    """The client's address (the proxy's X-Forwarded-For is applied by the ASGI server)."""
    return request.META.get("REMOTE_ADDR") or ""
