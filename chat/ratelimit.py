"""Frame budgets of sockets: a token bucket per user and process."""

import functools
import time

from django.conf import settings


class TokenBucket:
    """Allows bursts of ``burst`` events, refilled at ``rate`` per second."""

    def __init__(self, *, burst: int, rate: float, clock=time.monotonic):
        self.burst = burst
        self.rate = rate
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()

    def take(self) -> bool:
        """Spend one token; False (spending nothing) when the budget is exhausted."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def full(self) -> bool:
        """True once the budget has refilled (nothing spent recently)."""
        return self.tokens + (self.clock() - self.updated) * self.rate >= self.burst


class UserBudgets:
    """The sockets of each user in this process: one frame budget shared by all of them (a
    user opening more sockets gets no more frames), and at most ``CHAT_SOCKETS_PER_USER``.

    A user's budget outlives their sockets until it has refilled, so closing and reopening
    sockets does not refill it either.
    """

    SWEEP_EVERY = 1000  # opens between sweeps of idle, refilled budgets

    def __init__(self):
        self._users: dict[str, list] = {}  # user id -> [TokenBucket, open sockets]
        self._opens = 0

    def open(self, user_id: str) -> TokenBucket | None:
        """The budget of a new socket of the user; None if they have too many open here."""
        self._opens += 1
        if self._opens % self.SWEEP_EVERY == 0:
            self._sweep()
        entry = self._users.get(user_id)
        if entry is None:
            bucket = TokenBucket(burst=settings.CHAT_RATE_BURST, rate=settings.CHAT_RATE_PER_SECOND)
            entry = self._users[user_id] = [bucket, 0]
        if entry[1] >= settings.CHAT_SOCKETS_PER_USER:
            return None
        entry[1] += 1
        return entry[0]

    def close(self, user_id: str) -> None:
        entry = self._users.get(user_id)
        if entry is not None:
            entry[1] -= 1

    def _sweep(self) -> None:
        for user_id, (bucket, sockets) in list(self._users.items()):
            if sockets <= 0 and bucket.full():
                del self._users[user_id]


@functools.cache
def user_budgets() -> UserBudgets:
    """The process's budgets."""
    return UserBudgets()
