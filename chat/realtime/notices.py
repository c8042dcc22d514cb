"""Notices to open sockets about changes made elsewhere: a session ended, a user changed or
deactivated, a membership removed, a chat changed or deleted.

A change is saved by whichever process made it (an admin page, a REST call, a shell); the
sockets it concerns may be open on any process. ``notify()`` (called by
``chat.realtime.events``) sends a notice once the change is committed, through the fan-out on
one channel every process listens to (one subscription per process however many sockets, so
reconnect storms add nothing). Each process hands the notice to its sockets
it concerns (``Notices``), which act on it: re-read their session, leave a chat, drop what they
cached. A notice lost while Redis was unreachable is made up for by the socket's heartbeat,
which re-reads its session every third of ``CHAT_CONNECTION_TTL``.
"""

import asyncio
import functools
import hashlib
import json
import logging
from typing import Protocol

from django.db import transaction

from chat.ops.logs import detached
from chat.realtime.fanout import JOIN_TIMEOUT, get_fanout

logger = logging.getLogger(__name__)

# The fan-out channel of notices (chat ids are UUIDs, so no chat shares it).
CHANNEL = "notices"


class Listener(Protocol):
    """A socket as notices see it."""

    user_id: str

    def notice(self, notice: dict) -> None:
        """Act on a notice (called in the event loop; must not block)."""


def session_tag(session_key: str | None) -> str:
    """What a notice says of a session: a digest, not the key (notices cross Redis)."""
    return hashlib.sha256((session_key or "").encode()).hexdigest()[:32]


class Notices:
    """This process's sockets, by user, and the notices channel they listen on."""

    def __init__(self):
        self._by_user: dict[str, set[Listener]] = {}
        self._loop = None
        self._listening: asyncio.Future | None = None

    async def add(self, listener: Listener) -> None:
        """Hand ``listener`` the notices that concern it, from now on."""
        self._by_user.setdefault(listener.user_id, set()).add(listener)
        await self._listen()

    def discard(self, listener: Listener) -> None:
        listeners = self._by_user.get(listener.user_id)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._by_user[listener.user_id]

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._listening = loop, None
        if self._listening is None:
            self._listening = detached(get_fanout().join(CHANNEL, self))
        if self._listening.done():
            if self._listening.exception() is None:
                return
            self._listening = detached(get_fanout().join(CHANNEL, self))
        try:
            await asyncio.wait_for(asyncio.shield(self._listening), JOIN_TIMEOUT)
        except Exception as exc:
            # The socket opens anyway; its heartbeat re-reads its session meanwhile.
            logger.warning("Not listening to notices (%r); trying again at the next socket", exc)

    def deliver(self, text: str) -> None:
        """A notice from the channel (the fan-out calls this; never blocks)."""
        try:
            notice = json.loads(text)
        except ValueError:
            logger.warning("Ignoring a notice that is not JSON: %.200r", text)
            return
        users = [notice["userId"]] if "userId" in notice else notice.get("members")
        if users is not None:
            listeners = [each for user in users for each in self._by_user.get(str(user), ())]
        else:  # about a chat: any socket may have it cached
            listeners = [each for group in self._by_user.values() for each in group]
        for listener in listeners:
            try:
                listener.notice(notice)
            except Exception:
                logger.exception("A socket failed to act on notice %r", notice)


@functools.cache
def get_notices() -> Notices:
    """The process's notices, created on first use."""
    return Notices()


def notify(kind: str, **fields) -> None:
    """Send a notice to every process once the current transaction (if any) commits."""
    text = json.dumps({"type": kind, **fields}, separators=(",", ":"))
    transaction.on_commit(functools.partial(_send, text))


def _send(text: str) -> None:
    # A notice lost here (Redis unreachable) is made up for by the sockets' heartbeats.
    get_fanout().send_threadsafe(CHANNEL, text)
