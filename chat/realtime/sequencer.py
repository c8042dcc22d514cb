"""Live order per chat: a process hands a chat's ``message`` frames to its sockets in ``seq``
order, whatever order they were published in.

Two senders (on one process or two) can store seq 5 and 6 and publish 6 first. The sequencer
holds a frame whose seq is ahead of the next one expected for a short, bounded time and lets
it go as soon as the gap fills; if the gap does not fill in time (the missing message's
broadcast was lost, or is slower than the hold), it releases what it holds in order and moves
on: members catch up the missing one with ``sync``, as after any lost frame.
"""

import asyncio
import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

_SEQ_KEY = '{"seq":'


def seq_of(text: str) -> int | None:
    """The seq a serialized frame is ordered by, or None for frames in no order (typing,
    read). Ordered frames put ``seq`` first (``events.message_frame``), so this reads a prefix
    instead of parsing JSON; a frame from an older process without it is simply not ordered."""
    if not text.startswith(_SEQ_KEY):
        return None
    return int(text[len(_SEQ_KEY) : text.index(",", len(_SEQ_KEY))])


class _ChatOrder:
    """What the sequencer knows of one chat."""

    __slots__ = ("held", "next_seq", "timer")

    def __init__(self, next_seq: int):
        self.next_seq = next_seq  # the seq whose frame goes out next
        self.held: dict[int, str] = {}  # frames ahead of next_seq, by seq
        self.timer: asyncio.TimerHandle | None = None  # releases ``held`` when the hold ends


class Sequencer:
    """Orders each chat's frames by seq before ``deliver(chat_id, text)`` hands them on.

    ``hold`` is the longest a frame waits for the ones before it, in seconds (0: never).
    """

    def __init__(self, deliver: Callable[[str, str], None], hold: float):
        self._deliver = deliver
        self.hold = hold
        self._chats: dict[str, _ChatOrder] = {}
        self.released_with_gaps = 0
        """Times a hold ended before its gap filled (members saw a gap and synced)."""

    def start(self, chat_id: str, last_seq: int) -> None:
        """The chat's frames up to ``last_seq`` are known to its sockets here (they read it at
        join): order from the next one. No change if the chat is being ordered already."""
        if chat_id not in self._chats:
            self._chats[chat_id] = _ChatOrder(last_seq + 1)

    def forget(self, chat_id: str) -> None:
        """Drop the chat's state and what it holds (its last socket here left)."""
        order = self._chats.pop(chat_id, None)
        if order is not None and order.timer is not None:
            order.timer.cancel()

    def frame(self, chat_id: str, seq: int, text: str) -> None:
        """Hand on the chat's frame for ``seq`` in order (now, or once the gap before it fills
        or the hold ends)."""
        order = self._chats.get(chat_id)
        if order is None:
            # A frame before any join here read lastSeq: nothing to order it against yet.
            self._chats[chat_id] = _ChatOrder(seq + 1)
            self._deliver(chat_id, text)
            return
        if seq == order.next_seq:
            order.next_seq += 1
            self._deliver(chat_id, text)
            if order.held:
                self._release_ready(chat_id, order)
        elif seq < order.next_seq:
            # Late (its hold ended) or announced again by a retried send: members still need it.
            self._deliver(chat_id, text)
        elif self.hold <= 0:
            order.next_seq = seq + 1
            self._deliver(chat_id, text)
        else:
            order.held[seq] = text
            if order.timer is None:
                loop = asyncio.get_running_loop()
                order.timer = loop.call_later(self.hold, self._hold_ended, chat_id, order)

    def _release_ready(self, chat_id: str, order: _ChatOrder) -> None:
        held = order.held
        while order.next_seq in held:
            self._deliver(chat_id, held.pop(order.next_seq))
            order.next_seq += 1
        if not held and order.timer is not None:
            order.timer.cancel()
            order.timer = None

    def _hold_ended(self, chat_id: str, order: _ChatOrder) -> None:
        order.timer = None
        if not order.held:
            return
        self.released_with_gaps += 1
        logger.warning(
            "Chat %s: seq %d did not arrive within %.0f ms; releasing %d later frames",
            chat_id, order.next_seq, self.hold * 1000, len(order.held),
        )  # fmt: skip
        for seq in sorted(order.held):
            self._deliver(chat_id, order.held[seq])
            order.next_seq = seq + 1
        order.held.clear()
