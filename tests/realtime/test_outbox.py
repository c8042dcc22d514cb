"""The per-socket outbox: order, no idle task, and a socket that stops reading."""

import asyncio

import pytest

from chat.realtime.outbox import Outbox


async def test_frames_are_written_in_order_and_an_idle_outbox_holds_no_task():
    written = []

    async def write(frame):
        await asyncio.sleep(0)  # a write that yields, as a socket's does under load
        written.append(frame)

    outbox = Outbox(write, on_overflow=lambda: pytest.fail("no overflow expected"))
    assert not outbox.writing
    for n in range(5):
        outbox.put(f"a{n}")
    await asyncio.sleep(0)
    for n in range(5):  # more frames while the first burst is being written
        outbox.put(f"b{n}")
    while outbox.writing:
        await asyncio.sleep(0)
    assert written == [f"a{n}" for n in range(5)] + [f"b{n}" for n in range(5)]
    outbox.put("c")
    while outbox.writing:
        await asyncio.sleep(0)
    assert written[-1] == "c" and not outbox.writing


async def test_a_socket_that_stops_reading_is_stopped_once_at_the_limit():
    never = asyncio.Event()
    written, overflows = [], []

    async def stuck(frame):
        written.append(frame)
        await never.wait()

    outbox = Outbox(stuck, on_overflow=lambda: overflows.append(1), limit=10)
    outbox.put("first")
    await asyncio.sleep(0)  # "first" is being written and never finishes
    for n in range(10):
        outbox.put(str(n))
    assert overflows == [] and not outbox.stopped
    outbox.put("one too many")
    outbox.put("and another")
    assert overflows == [1] and outbox.stopped
    await outbox.close()
    assert not outbox.writing and written == ["first"]


async def test_a_failed_write_stops_the_outbox():
    attempts = []

    async def gone(frame):
        attempts.append(frame)
        raise ConnectionResetError("socket went away")

    outbox = Outbox(gone, on_overflow=lambda: pytest.fail("no overflow expected"))
    outbox.put("x")
    outbox.put("y")
    while outbox.writing:
        await asyncio.sleep(0)
    assert outbox.stopped and attempts == ["x"]
    outbox.put("z")
    assert not outbox.writing and attempts == ["x"]


async def test_a_write_that_need_not_wait_is_done_at_once_without_a_task():
    written = []

    async def write(frame):  # as the servers' sends, while the socket's buffer has room
        written.append(frame)

    outbox = Outbox(write, on_overflow=lambda: pytest.fail("no overflow expected"))
    outbox.put("a")
    assert written == ["a"] and not outbox.writing
    outbox.put("b")
    assert written == ["a", "b"] and not outbox.writing


async def test_a_write_that_waits_keeps_the_order_and_can_be_cancelled():
    room = asyncio.Event()
    written, ended = [], []

    async def write(frame):
        if frame == "full":  # the socket's buffer is full until `room` is set
            try:
                await room.wait()
            finally:
                ended.append(frame)
        written.append(frame)

    outbox = Outbox(write, on_overflow=lambda: pytest.fail("no overflow expected"))
    outbox.put("full")
    outbox.put("next")
    outbox.put("last")
    assert outbox.writing and written == []
    room.set()
    while outbox.writing:
        await asyncio.sleep(0)
    assert written == ["full", "next", "last"]

    room.clear()
    outbox.put("full")
    outbox.put("never")
    await outbox.close()
    # The write that was waiting is ended, and nothing after it is written.
    assert ended == ["full", "full"] and written == ["full", "next", "last"]
    assert not outbox.writing and outbox.stopped
