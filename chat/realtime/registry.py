"""The connection registry's writes from this process's sockets, batched.

Every socket registers when it opens, updates its row when it joins a chat or its heartbeat
moves the expiry, and is forgotten when it closes; after a deploy thousands do so at once.
Their writes wait here for a moment (``BATCH_DELAY``) and go to the store together, one
statement or batch request for many sockets, and a socket's later write replaces its earlier
one still waiting. No task runs while nothing waits. Once a minute, with a write, the rows of
sockets that never closed (their process was killed) and have expired are deleted.

The registry is presence bookkeeping with expiring rows: a failed write is logged, never
raised into a socket, and the socket's next heartbeat writes its row again.
"""

import asyncio
import functools
import logging
import time

from chat.ops.logs import detached
from chat.realtime.db import database_sync_to_async
from chat.services import presence_seen
from chat.stores import get_store
from chat.stores.base import Connection

logger = logging.getLogger(__name__)

# How long a write waits for others to go with it, in seconds.
BATCH_DELAY = 0.05
# How often a process deletes rows left expired by sockets that never closed (a process that
# was killed, a crash), in seconds; the first write after start-up does it too.
PURGE_INTERVAL = 60.0


def _write(put: list[Connection], remove: list[str], purge: bool, seen: set[str]) -> None:
    store = get_store()
    store.connections_write(put=put, remove=remove)
    if seen:
        presence_seen(user_ids=seen)
    if purge:
        purged = store.connections_purge(now=int(time.time()))
        if purged:
            logger.info("Connection registry: deleted %d expired sockets", purged)


class ConnectionRegistry:
    """This process's registry writes; call from the event loop."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._waiting: dict[str, Connection | None] = {}  # connection id -> row, or None: remove
        self._seen: set[str] = set()  # users whose sockets closed since the last write
        self._writer: asyncio.Task | None = None
        self._purged_at = -PURGE_INTERVAL

    def put(self, connection: Connection) -> None:
        """Register the socket, or replace its row (joined a chat, new expiry)."""
        self._waiting[connection.connection_id] = connection
        self._start()

    def remove(self, connection_id: str, user_id: str | None = None) -> None:
        """Forget the socket (it closed); ``user_id`` was last seen now."""
        self._waiting[connection_id] = None
        if user_id is not None:
            self._seen.add(user_id)
        self._start()

    async def flush(self) -> None:
        """Return once every write made so far has been tried."""
        while self._writer is not None:
            await asyncio.shield(self._writer)

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._writer is None or self._writer.get_loop() is not loop:
            self._writer = detached(self._write_waiting())

    async def _write_waiting(self) -> None:
        try:
            while self._waiting:
                await asyncio.sleep(BATCH_DELAY)
                waiting, self._waiting = self._waiting, {}
                seen, self._seen = self._seen, set()
                put = [row for row in waiting.values() if row is not None]
                remove = [key for key, row in waiting.items() if row is None]
                purge = self._clock() - self._purged_at >= PURGE_INTERVAL
                if purge:
                    self._purged_at = self._clock()
                try:
                    await database_sync_to_async(_write)(put, remove, purge, seen)
                except Exception:
                    logger.exception(
                        "Connection registry: writing %d sockets and removing %d failed",
                        len(put), len(remove),
                    )  # fmt: skip
        finally:
            self._writer = None


@functools.cache
def get_registry() -> ConnectionRegistry:
    """The process's registry writer, created on first use."""
    return ConnectionRegistry()
