"""Fan-out: every socket joined to a chat receives the chat's frames, whichever process it is on.

Each process keeps its own sockets per chat. ``LocalFanout`` (one process) hands a frame to
them directly; ``RedisFanout`` also subscribes once per chat that has sockets here to a Redis
pub/sub channel (all over one connection, ``chat.realtime.subscriber``), so a frame crosses
Redis once per process, not once per socket. Frames arrive already serialized (once, by the
publisher); a chat's ``message`` frames go out in seq order (``chat.realtime.sequencer``) and are
put in each socket's outbox; the socket writes them in order, so one slow socket never holds up
the others.

Frames are handed to it by ``chat.realtime.events`` (``send``, or ``send_threadsafe`` from a
thread outside the event loop). The backend is named by ``settings.CHAT_FANOUT_BACKEND``;
``get_fanout()`` returns the process's instance.
"""

import asyncio
import contextvars
import functools
import logging
import os
import socket
from typing import Protocol

# Imported with the module, not at the first join: importing redis-py holds the event loop for
# a noticeable while, which a reconnect storm right after start-up would wait for.
import redis
import redis.asyncio as aioredis
from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from chat.ops.metrics import BROADCAST_FAILURES, FRAMES_DELIVERED, REDIS_SECONDS, timed
from chat.realtime.sequencer import Sequencer, seq_of
from chat.realtime.subscriber import RedisSubscriber

# Bound once: a label lookup on every publish costs as much as the observation itself.
PUBLISH_SECONDS = REDIS_SECONDS.labels(operation="publish")

logger = logging.getLogger(__name__)

# How long a join waits for its chat's subscription before it fails as retryable.
JOIN_TIMEOUT = 3.0


class Receiver(Protocol):
    """A socket as the fan-out sees it."""

    def deliver(self, text: str) -> None:
        """Queue a frame for the socket; must not block."""


class LocalFanout:
    """Fan-out within one process."""

    def __init__(self):
        self._receivers: dict[str, set[Receiver]] = {}
        self._sequencer = Sequencer(self._deliver, settings.CHAT_FANOUT_HOLD_MS / 1000)
        self._loop: asyncio.AbstractEventLoop | None = None  # where this process's sockets are

    async def join(self, chat_id: str, receiver: Receiver) -> None:
        """Deliver the chat's frames to ``receiver`` from now on: a frame published after this
        returns reaches it. Raises if live delivery is unavailable (``receiver`` not joined)."""
        self._loop = asyncio.get_running_loop()
        self._receivers.setdefault(chat_id, set()).add(receiver)

    def order_from(self, chat_id: str, last_seq: int) -> None:
        """A socket joining the chat has read its ``last_seq``: order its message frames from
        the next one (no change while other sockets here are joined to it)."""
        self._sequencer.start(chat_id, last_seq)

    async def leave(self, chat_id: str, receiver: Receiver) -> None:
        """Stop delivering the chat's frames to ``receiver`` (no error if it was not joined)."""
        receivers = self._receivers.get(chat_id)
        if receivers is not None:
            receivers.discard(receiver)
            if not receivers:
                del self._receivers[chat_id]
                self._sequencer.forget(chat_id)

    async def publish(self, chat_id: str, text: str) -> None:
        """Deliver ``text`` to every receiver joined to the chat; raises if it cannot."""
        self.send(chat_id, text)

    def send(self, chat_id: str, text: str) -> None:
        """``publish`` without waiting (in the event loop; never raises): a chat's frames leave
        in the order they were sent."""
        self._received(chat_id, text)

    def send_threadsafe(self, chat_id: str, text: str) -> None:
        """``send`` from any thread: in the event loop of this process's sockets, if it has any
        (with none, no socket here is joined to anything)."""
        loop = self._loop
        if loop is None or not loop.is_running():
            return
        if _running_loop() is loop:
            self.send(chat_id, text)
        else:
            # In a context of its own: not the sending thread's (asgiref's state, for one).
            loop.call_soon_threadsafe(self.send, chat_id, text, context=contextvars.Context())

    def _received(self, chat_id: str, text: str) -> None:
        if chat_id not in self._receivers:
            return
        seq = seq_of(text)
        if seq is None:
            self._deliver(chat_id, text)
        else:
            self._sequencer.frame(chat_id, seq, text)

    def _deliver(self, chat_id: str, text: str) -> None:
        receivers = tuple(self._receivers.get(chat_id, ()))
        for receiver in receivers:
            receiver.deliver(text)
        FRAMES_DELIVERED.inc(len(receivers))  # once a frame, not once a socket


class RedisFanout(LocalFanout):
    """Fan-out across processes through Redis pub/sub (``settings.REDIS_URL``).

    Redis connections per process: at most ``settings.CHAT_REDIS_POOL`` for publishing, plus
    the one subscription connection, however many sockets join or publish at once.
    """

    def __init__(self):
        super().__init__()
        self.prefix = f"chat-{settings.CHAT_STAGE}:chat:"
        self._redis = None
        self._subscriber = None
        # Frames sent and not yet published, by chat; a chat is here while a task publishes its.
        self._unsent: dict[str, list[str]] = {}
        self._publishing: set[asyncio.Task] = set()

    def _channel(self, chat_id: str) -> str:
        return self.prefix + chat_id

    def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=settings.CHAT_REDIS_POOL,
            timeout=2,
            socket_connect_timeout=2,
            socket_keepalive=True,
            health_check_interval=15,
            decode_responses=True,
            # Names this process's connections in CLIENT LIST (a client_name in the URL wins).
            client_name=f"chat-{settings.CHAT_STAGE}-{socket.gethostname()}-{os.getpid()}",
        )
        self._redis = aioredis.Redis(connection_pool=pool)
        # The subscription connection is made like the pool's but is not one of them. When it
        # fails, the pool's idle connections are dropped too: after a Redis restart each would
        # otherwise fail one publish (a frame lost) before reconnecting.
        self._subscriber = RedisSubscriber(
            pool.make_connection,
            self._on_message,
            on_lost=functools.partial(pool.disconnect, inuse_connections=False),
        )
        self._loop = loop

    async def join(self, chat_id, receiver):
        self._connect()
        await super().join(chat_id, receiver)
        try:
            await self._subscriber.subscribe(self._channel(chat_id), timeout=JOIN_TIMEOUT)
        except BaseException:
            await self.leave(chat_id, receiver)
            raise

    async def leave(self, chat_id, receiver):
        await super().leave(chat_id, receiver)
        if chat_id not in self._receivers and self._subscriber is not None:
            self._subscriber.unsubscribe(self._channel(chat_id))

    def client(self) -> aioredis.Redis:
        """The process's Redis client (its pool), for other shared state
        (chat.realtime.ratelimit)."""
        self._connect()
        return self._redis

    async def publish(self, chat_id, text):
        self._connect()
        with timed(PUBLISH_SECONDS):
            await self._redis.publish(self._channel(chat_id), text)

    def send(self, chat_id, text):
        unsent = self._unsent.get(chat_id)
        if unsent is not None:
            unsent.append(text)  # the chat's task publishes it next
            return
        self._unsent[chat_id] = [text]
        task = asyncio.ensure_future(self._publish_unsent(chat_id))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _publish_unsent(self, chat_id: str) -> None:
        # One task per chat with frames to publish; those sent meanwhile go together, in order,
        # in one round trip.
        try:
            while texts := self._unsent[chat_id]:
                self._unsent[chat_id] = []
                try:
                    if len(texts) == 1:
                        await self.publish(chat_id, texts[0])
                    else:
                        self._connect()
                        with timed(PUBLISH_SECONDS):
                            async with self._redis.pipeline(transaction=False) as pipe:
                                for text in texts:
                                    pipe.publish(self._channel(chat_id), text)
                                await pipe.execute()
                except Exception:
                    BROADCAST_FAILURES.inc(len(texts))
                    logger.exception(
                        "Broadcast to chat %s failed; members will catch up by sync.", chat_id
                    )
        finally:
            del self._unsent[chat_id]

    def send_threadsafe(self, chat_id, text):
        loop = self._loop
        if loop is not None and loop.is_running():
            super().send_threadsafe(chat_id, text)
            return
        # No event loop here (a shell, a management command, a process without sockets):
        # straight to Redis.
        try:
            _sync_client(settings.REDIS_URL).publish(self._channel(chat_id), text)
        except redis.RedisError:
            BROADCAST_FAILURES.inc()
            logger.exception("Broadcast to chat %s failed; members will catch up by sync.", chat_id)

    def _on_message(self, channel: str, text: str) -> None:
        self._received(channel.removeprefix(self.prefix), text)

    async def close(self) -> None:
        """Close the process's Redis connections (tests; a server just exits)."""
        if self._subscriber is not None:
            await self._subscriber.close()
            await self._redis.aclose()
            self._subscriber = self._redis = self._loop = None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


@functools.cache
def _sync_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


@functools.cache
def get_fanout() -> LocalFanout:
    """The process's fan-out, created on first use."""
    return import_string(settings.CHAT_FANOUT_BACKEND)()


def _reset(*, setting, **kwargs):
    if setting in {"CHAT_FANOUT_BACKEND", "REDIS_URL"}:
        get_fanout.cache_clear()


setting_changed.connect(_reset)
