"""A chat's message frames go out in seq order; a gap is waited for a bounded time only."""

import asyncio

from chat.realtime import events
from chat.realtime.fanout import LocalFanout
from chat.realtime.sequencer import Sequencer, seq_of
from chat.stores.base import Message


def frame(seq: int) -> str:
    return events.message_frame(
        Message(
            chat_id="c", seq=seq, message_id=f"m{seq}", client_message_id=f"k{seq}",
            user_id="1", username="ann", body=f"body {seq}", timestamp=0, attachments=(),
        )
    )  # fmt: skip


def sequencer(hold=0.05):
    out = []
    return Sequencer(lambda chat_id, text: out.append((chat_id, seq_of(text))), hold), out


def test_a_message_frame_names_its_seq_first_and_other_frames_none():
    assert seq_of(frame(42)) == 42
    assert seq_of(events.frame({"type": "typing", "chatId": "c"})) is None


async def test_a_frame_ahead_of_its_turn_waits_until_the_gap_fills():
    order, out = sequencer()
    order.start("c", 4)
    for seq in (5, 7, 8, 6, 9):
        order.frame("c", seq, frame(seq))
    assert out == [("c", 5), ("c", 6), ("c", 7), ("c", 8), ("c", 9)]
    await asyncio.sleep(0.1)
    assert order.released_with_gaps == 0


async def test_a_gap_that_does_not_fill_is_released_in_order_after_the_hold():
    order, out = sequencer(hold=0.05)
    order.start("c", 0)
    order.frame("c", 1, frame(1))
    order.frame("c", 4, frame(4))
    order.frame("c", 3, frame(3))
    assert out == [("c", 1)]
    await asyncio.sleep(0.1)
    assert out == [("c", 1), ("c", 3), ("c", 4)]
    assert order.released_with_gaps == 1
    # The missing one still reaches members when it comes, and the order goes on from 5.
    order.frame("c", 2, frame(2))
    order.frame("c", 5, frame(5))
    assert out[3:] == [("c", 2), ("c", 5)]


async def test_chats_are_ordered_separately_and_forgetting_one_drops_what_it_held():
    order, out = sequencer(hold=0.05)
    order.start("a", 0)
    order.start("b", 10)
    order.frame("a", 2, frame(2))
    order.frame("b", 11, frame(11))
    order.forget("a")
    await asyncio.sleep(0.1)
    assert out == [("b", 11)]
    assert order.released_with_gaps == 0


async def test_a_hold_of_zero_hands_frames_on_as_they_come():
    order, out = sequencer(hold=0)
    order.start("c", 0)
    for seq in (2, 1, 3):
        order.frame("c", seq, frame(seq))
    assert out == [("c", 2), ("c", 1), ("c", 3)]


class Socket:
    def __init__(self):
        self.frames = []

    def deliver(self, text):
        self.frames.append(seq_of(text) or text)


async def test_the_fanout_orders_message_frames_and_passes_the_others_straight(settings):
    settings.CHAT_FANOUT_HOLD_MS = 50
    fanout, socket = LocalFanout(), Socket()
    await fanout.join("c", socket)
    fanout.order_from("c", 0)
    typing = events.frame({"type": "typing", "chatId": "c"})
    for text in (frame(2), typing, frame(1), frame(3)):
        await fanout.publish("c", text)
    assert socket.frames == [typing, 1, 2, 3]
    await fanout.publish("elsewhere", frame(1))  # no socket here: nothing kept for it
    assert "elsewhere" not in fanout._sequencer._chats
