"""The process's one Redis connection subscribed to chat channels.

Sockets join and leave chats at any moment, thousands at once after a deploy. Only this
object talks to the subscription connection: callers say which channels they want
(``subscribe``, ``unsubscribe``) and a writer task sends the difference between what is
wanted and what Redis was last told, as one SUBSCRIBE and one UNSUBSCRIBE for however many
channels changed meanwhile. A reader task hands on messages and counts Redis's confirmations:
a channel is subscribed once every command sent for it is confirmed and the last was a
SUBSCRIBE, and only then does ``subscribe`` return, so a frame published after it returns is
received.

When the connection fails (Redis restarted, a network cut, no reply to a ping), a new one is
made with backoff and every wanted channel is subscribed again in one command.
"""

import asyncio
import contextlib
import logging
import math
from collections import Counter
from collections.abc import Callable

from chat.ops.logs import detached

logger = logging.getLogger(__name__)

# Channels per SUBSCRIBE / UNSUBSCRIBE command (a storm of joins is sent in a few commands).
BATCH = 1000
# An idle connection is pinged this often; a connection that answers nothing for three
# intervals is given up and replaced.
PING_INTERVAL = 10.0


class RedisSubscriber:
    """Subscriptions of one process, over one connection made by ``connect()``.

    ``on_message(channel, data)`` is called in the event loop for every published message on
    a subscribed channel; it must not block. ``on_lost()`` is awaited each time the
    connection fails (other connections to the same server are likely dead too).
    """

    def __init__(self, connect: Callable, on_message: Callable[[str, str], None], on_lost=None):
        self._connect = connect
        self._on_message = on_message
        self._on_lost = on_lost
        self._wanted: set[str] = set()
        self._requested: set[str] = set()  # the last command sent for these was SUBSCRIBE
        self._dirty: set[str] = set()  # wanted or unwanted since the writer last looked
        self._unconfirmed: Counter[str] = Counter()  # commands sent, not yet confirmed
        self._active: set[str] = set()  # subscribed and confirmed
        self._waiters: dict[str, asyncio.Future] = {}
        self._changed = asyncio.Event()
        self._last_reply = 0.0  # loop time of the last reply read
        self._task = detached(self._run())

    @property
    def channels(self) -> frozenset[str]:
        """Channels subscribed on the connection now (confirmed by Redis)."""
        return frozenset(self._active)

    async def subscribe(self, channel: str, timeout: float) -> None:
        """Return once ``channel`` is subscribed; raise ``TimeoutError`` if that takes longer
        than ``timeout`` seconds (Redis unreachable). The channel stays wanted either way,
        until ``unsubscribe``."""
        self._wanted.add(channel)
        if channel in self._active:
            return
        self._dirty.add(channel)
        waiter = self._waiters.get(channel)
        if waiter is None:
            waiter = self._waiters[channel] = asyncio.get_running_loop().create_future()
        self._changed.set()
        async with asyncio.timeout(timeout):
            await asyncio.shield(waiter)

    def unsubscribe(self, channel: str) -> None:
        """Stop wanting ``channel``; the writer unsubscribes it soon (no wait here)."""
        self._wanted.discard(channel)
        self._waiters.pop(channel, None)
        self._dirty.add(channel)
        self._changed.set()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        delay = 0.1
        loop = asyncio.get_running_loop()
        while True:
            connection = self._connect()
            started = loop.time()
            try:
                await connection.connect()
                await self._serve(connection)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if loop.time() - started > 10:
                    delay = 0.1  # it served a while: a new failure, retried quickly
                logger.warning(
                    "Redis subscription connection lost (%s); %d channels wanted, "
                    "subscribing again in %.1fs",
                    error or type(error).__name__, len(self._wanted), delay,
                )  # fmt: skip
                await self._lost()
            finally:
                self._requested.clear()
                self._unconfirmed.clear()
                self._active.clear()
                await connection.disconnect(nowait=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _lost(self) -> None:
        if self._on_lost is None:
            return
        try:
            await self._on_lost()
        except Exception:
            logger.exception("Cleaning up after the lost subscription connection failed")

    async def _serve(self, connection) -> None:
        self._dirty = set(self._wanted)  # everything wanted is subscribed anew on this connection
        self._changed.set()
        reader = asyncio.ensure_future(self._read(connection))
        writer = asyncio.ensure_future(self._write(connection))
        try:
            done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, writer):
                task.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)
        for task in done:
            task.result()  # raises what ended it
        raise ConnectionError("the subscription connection closed")

    async def _write(self, connection) -> None:
        loop = asyncio.get_running_loop()
        last_sent = self._last_reply = loop.time()
        while True:
            if loop.time() - self._last_reply > 3 * PING_INTERVAL:
                raise ConnectionError(f"no reply from Redis in {3 * PING_INTERVAL:.0f}s")
            wait = last_sent + PING_INTERVAL - loop.time()
            if wait <= 0:
                await connection.send_command("PING", check_health=False)
                last_sent = loop.time()
                continue
            try:
                async with asyncio.timeout(wait):
                    await self._changed.wait()
            except TimeoutError:
                continue
            self._changed.clear()
            dirty, self._dirty = self._dirty, set()
            added = {c for c in dirty if c in self._wanted and c not in self._requested}
            removed = {c for c in dirty if c not in self._wanted and c in self._requested}
            for command, channels in (("SUBSCRIBE", added), ("UNSUBSCRIBE", removed)):
                ordered = sorted(channels)
                for start in range(0, len(ordered), BATCH):
                    batch = ordered[start : start + BATCH]
                    if command == "SUBSCRIBE":
                        self._requested.update(batch)
                    else:
                        self._requested.difference_update(batch)
                    self._active.difference_update(batch)
                    self._unconfirmed.update(batch)
                    await connection.send_command(command, *batch, check_health=False)
                    last_sent = loop.time()

    async def _read(self, connection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            # No timeout per read (a timer for every frame): the writer pings an idle
            # connection and gives it up when nothing has come back for a while.
            reply = await connection.read_response(timeout=math.inf, push_request=True)
            self._last_reply = loop.time()
            kind = reply[0]
            if kind == "message":
                self._on_message(reply[1], reply[2])
            elif kind in ("subscribe", "unsubscribe"):
                self._confirmed(reply[1])

    def _confirmed(self, channel: str) -> None:
        self._unconfirmed[channel] -= 1
        if self._unconfirmed[channel] > 0:
            return
        del self._unconfirmed[channel]
        if channel in self._requested:
            self._active.add(channel)
            waiter = self._waiters.pop(channel, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
