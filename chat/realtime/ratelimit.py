"""Limits of a user's sockets: how many they may have open and how many frames they may send.

In a process, a user's sockets share one token bucket (a user opening more sockets gets no
more frames) and at most ``CHAT_SOCKETS_PER_USER`` of them are open; both are checked at once,
in memory. With Redis configured (``RedisFanout``), the same limits hold across processes,
without a Redis round trip on a frame's way: each process reports what its sockets opened,
closed and spent every ``SYNC_DELAY`` seconds (one script call for all its users), and Redis
answers which new sockets are over the cap (closed with 4429) and which users spent more than
their shared budget in the current window (their frames refused until it ends). A user can
overspend by what their sockets send between reports, and when Redis is unreachable the
per-process limits still hold.
"""

import asyncio
import functools
import logging
import time
from collections import Counter
from collections.abc import Callable

from django.conf import settings

from chat.ops.logs import detached
from chat.realtime.fanout import get_fanout

logger = logging.getLogger(__name__)

# How long a report waits for others to go with it, in seconds.
SYNC_DELAY = 0.25
# The shared frame budget's window, in seconds: a user may send the token bucket's burst plus
# its rate for this long in each window, across processes.
WINDOW = 10

# KEYS: a user's frame counter per report; ARGV: the window's length, the budget, then the
# frames each spent. Returns the (1-based) positions of the users over budget.
_SPEND = """
local over = {}
for i = 1, #KEYS do
  local spent = tonumber(ARGV[i + 2])
  local total = redis.call('INCRBY', KEYS[i], spent)
  if total == spent then redis.call('EXPIRE', KEYS[i], ARGV[1]) end
  if total > tonumber(ARGV[2]) then over[#over + 1] = i end
end
return over
"""

# KEYS: a user's open sockets (a sorted set, connection id -> expiry) per change; ARGV: now, a
# new expiry, the cap, the set's lifetime, then an operation ('+' opened, '~' still open,
# '-' closed) and a connection id per change. Returns the positions of opened sockets over
# the cap, which are not counted.
_SOCKETS = """
local refused = {}
for i = 1, #KEYS do
  local op, id = ARGV[3 + 2 * i], ARGV[4 + 2 * i]
  if op == '-' then
    redis.call('ZREM', KEYS[i], id)
  else
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[1])
    redis.call('ZADD', KEYS[i], ARGV[2], id)
    if op == '+' and redis.call('ZCARD', KEYS[i]) > tonumber(ARGV[3]) then
      redis.call('ZREM', KEYS[i], id)
      refused[#refused + 1] = i
    end
    redis.call('EXPIRE', KEYS[i], ARGV[4])
  end
end
return refused
"""


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


class SharedLimits:
    """The limits' counts in Redis, shared by every process; call from the event loop.

    ``client()`` returns the process's ``redis.asyncio.Redis``.
    """

    def __init__(self, client: Callable, prefix: str, clock=time.time):
        self._client = client
        self._prefix = prefix
        self._clock = clock
        self._spent: Counter[str] = Counter()  # user id -> frames since the last report
        self._changes: list[tuple[str, str, str, Callable | None]] = []
        self._over: dict[str, int] = {}  # user id -> the window in which they are over budget
        self._writer: asyncio.Task | None = None
        self._scripts = None

    def opened(self, user_id: str, connection_id: str, refuse: Callable[[], None]) -> None:
        """Count a new socket; ``refuse()`` is called if the user already has too many."""
        self._change(user_id, "+", connection_id, refuse)

    def still_open(self, user_id: str, connection_id: str) -> None:
        """The socket is alive (a heartbeat): keep it counted."""
        self._change(user_id, "~", connection_id, None)

    def closed(self, user_id: str, connection_id: str) -> None:
        self._change(user_id, "-", connection_id, None)

    def allows(self, user_id: str) -> bool:
        """False while the user is over their shared budget (until the window ends)."""
        window = self._over.get(user_id)
        if window is None:
            return True
        if window == self._window():
            return False
        del self._over[user_id]
        return True

    def spent(self, user_id: str) -> None:
        """Count one frame of the user's."""
        self._spent[user_id] += 1
        self._start()

    async def flush(self) -> None:
        """Return once every report made so far has been tried."""
        while self._writer is not None:
            await asyncio.shield(self._writer)

    def _window(self) -> int:
        return int(self._clock() // WINDOW)

    def _change(self, user_id, op, connection_id, refuse) -> None:
        self._changes.append((user_id, op, connection_id, refuse))
        self._start()

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._writer is None or self._writer.get_loop() is not loop:
            self._writer = detached(self._report_waiting())

    async def _report_waiting(self) -> None:
        try:
            while self._spent or self._changes:
                await asyncio.sleep(SYNC_DELAY)
                spent, self._spent = self._spent, Counter()
                changes, self._changes = self._changes, []
                try:
                    await self._report(spent, changes)
                except Exception as exc:
                    # The per-process limits still hold; the next report counts again.
                    logger.warning("Socket limits: reporting to Redis failed (%r)", exc)
        finally:
            self._writer = None

    async def _report(self, spent: Counter, changes: list) -> None:
        client = self._client()
        if self._scripts is None or self._scripts[0].registered_client is not client:
            self._scripts = (client.register_script(_SPEND), client.register_script(_SOCKETS))
        spend, sockets = self._scripts
        if changes:
            now = int(self._clock())
            refused = await sockets(
                keys=[f"{self._prefix}sockets:{user_id}" for user_id, *_ in changes],
                args=[
                    now,
                    now + settings.CHAT_CONNECTION_TTL,
                    settings.CHAT_SOCKETS_PER_USER,
                    settings.CHAT_CONNECTION_TTL,
                    *(part for _, op, connection_id, _ in changes for part in (op, connection_id)),
                ],
            )
            for position in refused:
                user_id, _, _, refuse = changes[int(position) - 1]
                logger.warning("Refusing a socket of user %s: too many open", user_id)
                refuse()
        if spent:
            window = self._window()
            users = list(spent)
            budget = settings.CHAT_RATE_BURST + settings.CHAT_RATE_PER_SECOND * WINDOW
            over = await spend(
                keys=[f"{self._prefix}frames:{user_id}:{window}" for user_id in users],
                args=[WINDOW + 1, int(budget), *(spent[user_id] for user_id in users)],
            )
            for position in over:
                self._over[users[int(position) - 1]] = window


class SocketLimit:
    """One socket's share of its user's limits."""

    def __init__(self, budgets: "UserBudgets", user_id: str, connection_id: str, bucket):
        self._budgets = budgets
        self._user_id = user_id
        self._connection_id = connection_id
        self._bucket = bucket

    def take(self) -> bool:
        """Spend one frame; False (spending nothing) when the user's budget is exhausted."""
        shared = self._budgets.shared
        if shared is None:
            return self._bucket.take()
        if not shared.allows(self._user_id) or not self._bucket.take():
            return False
        shared.spent(self._user_id)
        return True

    def still_open(self) -> None:
        if self._budgets.shared is not None:
            self._budgets.shared.still_open(self._user_id, self._connection_id)

    def close(self) -> None:
        self._budgets.close(self._user_id, self._connection_id)


class UserBudgets:
    """The limits of the users with sockets in this process (and in every process, with
    ``shared``).

    A user's budget outlives their sockets until it has refilled, so closing and reopening
    sockets does not refill it either.
    """

    SWEEP_EVERY = 1000  # opens between sweeps of idle, refilled budgets

    def __init__(self, shared: SharedLimits | None = None):
        self.shared = shared
        self._users: dict[str, list] = {}  # user id -> [TokenBucket, open sockets]
        self._opens = 0

    def open(self, user_id: str, connection_id: str, refuse: Callable[[], None]):
        """The limit of a new socket of the user, or None if they have too many open here;
        with shared limits, ``refuse()`` is called later if they have too many anywhere."""
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
        if self.shared is not None:
            self.shared.opened(user_id, connection_id, refuse)
        return SocketLimit(self, user_id, connection_id, entry[0])

    def close(self, user_id: str, connection_id: str) -> None:
        entry = self._users.get(user_id)
        if entry is not None:
            entry[1] -= 1
        if self.shared is not None:
            self.shared.closed(user_id, connection_id)

    def _sweep(self) -> None:
        for user_id, (bucket, sockets) in list(self._users.items()):
            if sockets <= 0 and bucket.full():
                del self._users[user_id]


@functools.cache
def user_budgets() -> UserBudgets:
    """The process's budgets: shared through the fan-out's Redis when it has one."""
    client = getattr(get_fanout(), "client", None)
    if client is None:
        return UserBudgets()
    return UserBudgets(SharedLimits(client, prefix=f"chat-{settings.CHAT_STAGE}:"))
