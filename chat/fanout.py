"""Fan-out: every socket joined to a chat receives the chat's frames, whichever process it is on.

Each process keeps its own sockets per chat. ``LocalFanout`` (one process) hands a frame to
them directly; ``RedisFanout`` also subscribes once per chat that has sockets here to a Redis
pub/sub channel, so a frame crosses Redis once per process, not once per socket. Frames arrive
already serialized (once, by the publisher) and are put in each socket's outbox; the socket
writes them in order, so one slow socket never holds up the others.

The backend is named by ``settings.CHAT_FANOUT_BACKEND``; ``get_fanout()`` returns the
process's instance.
"""

import asyncio
import functools
import logging
from collections import defaultdict
from typing import Protocol

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class Receiver(Protocol):
    """A socket as the fan-out sees it."""

    def deliver(self, text: str) -> None:
        """Queue a frame for the socket; must not block."""


class LocalFanout:
    """Fan-out within one process."""

    def __init__(self):
        self._receivers: dict[str, set[Receiver]] = defaultdict(set)

    async def join(self, chat_id: str, receiver: Receiver) -> None:
        """Deliver the chat's frames to ``receiver`` from now on."""
        self._receivers[chat_id].add(receiver)

    async def leave(self, chat_id: str, receiver: Receiver) -> None:
        """Stop delivering the chat's frames to ``receiver`` (no error if it was not joined)."""
        receivers = self._receivers.get(chat_id)
        if receivers is not None:
            receivers.discard(receiver)
            if not receivers:
                del self._receivers[chat_id]

    async def publish(self, chat_id: str, text: str) -> None:
        """Deliver ``text`` to every receiver joined to the chat; raises if it cannot."""
        self._deliver(chat_id, text)

    def _deliver(self, chat_id: str, text: str) -> None:
        for receiver in tuple(self._receivers.get(chat_id, ())):
            receiver.deliver(text)


class RedisFanout(LocalFanout):
    """Fan-out across processes through Redis pub/sub (``settings.REDIS_URL``)."""

    def __init__(self):
        super().__init__()
        self.prefix = f"chat-{settings.CHAT_STAGE}:chat:"
        self._redis = None
        self._pubsub = None
        self._reader = None
        self._loop = None
        self._subscribed = None  # set while the process subscribes to at least one chat

    def _channel(self, chat_id: str) -> str:
        return self.prefix + chat_id

    def _connect(self) -> None:
        import redis.asyncio as redis

        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        pool = redis.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=settings.CHAT_REDIS_POOL,
            timeout=2,
            socket_connect_timeout=2,
            socket_keepalive=True,
            health_check_interval=15,
            decode_responses=True,
        )
        self._redis = redis.Redis(connection_pool=pool)
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        self._subscribed = asyncio.Event()
        self._loop = loop
        self._reader = loop.create_task(self._read())

    async def join(self, chat_id, receiver):
        self._connect()
        first = chat_id not in self._receivers
        await super().join(chat_id, receiver)
        if first:
            try:
                await self._pubsub.subscribe(self._channel(chat_id))
            except Exception:
                await super().leave(chat_id, receiver)
                raise
            self._subscribed.set()

    async def leave(self, chat_id, receiver):
        await super().leave(chat_id, receiver)
        if chat_id not in self._receivers and self._pubsub is not None:
            try:
                await self._pubsub.unsubscribe(self._channel(chat_id))
            except Exception:
                logger.warning("Could not unsubscribe from %s (Redis down)", chat_id)

    async def publish(self, chat_id, text):
        self._connect()
        await self._redis.publish(self._channel(chat_id), text)

    async def _read(self) -> None:
        # Blocks on the subscription connection: a frame is handed on as soon as it arrives.
        # When Redis goes away the read fails; redis-py reconnects on the next read and
        # subscribes again to every channel it had, so delivery resumes by itself.
        delay = 0.1
        while True:
            try:
                if not self._pubsub.subscribed:
                    # Nothing to read until a socket here joins a chat.
                    self._subscribed.clear()
                    await self._subscribed.wait()
                    continue
                message = await self._pubsub.get_message(timeout=None)
                delay = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("Redis fan-out interrupted (%s); retrying in %.1fs", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if message is None or message.get("type") != "message":
                continue
            self._deliver(message["channel"].removeprefix(self.prefix), message["data"])


@functools.cache
def get_fanout() -> LocalFanout:
    """The process's fan-out, created on first use."""
    return import_string(settings.CHAT_FANOUT_BACKEND)()


def _reset(*, setting, **kwargs):
    if setting in {"CHAT_FANOUT_BACKEND", "REDIS_URL"}:
        get_fanout.cache_clear()


setting_changed.connect(_reset)
