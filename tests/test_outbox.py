"""The per-socket outbox: order, no idle task, and a socket that stops reading."""

import asyncio

import pytest

from chat.outbox import Outbox


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
