"""Broadcast frames on their way to one socket."""

import asyncio
import functools
import logging
import types

logger = logging.getLogger(__name__)

# Frames waiting for a socket that does not read them; past this it is stopped (the client
# reconnects and catches up with sync) rather than holding memory without bound.
OUTBOX_LIMIT = 1000


class Outbox:
    """Frames written to one socket in order: at once while the socket takes them, else by a
    task that exists only while some wait.

    An idle socket holds no queue and no task (a per-socket queue and writer task were a large
    part of an idle connection's memory). ``put`` never blocks the fan-out: when ``limit`` frames
    wait, the outbox stops and calls ``on_overflow`` once. A write that fails (the socket went
    away) stops it too; its disconnect takes it out of the fan-out.
    """

    __slots__ = ("_frames", "_limit", "_on_overflow", "_started", "_write", "_writer", "stopped")

    def __init__(self, write, on_overflow, limit: int = OUTBOX_LIMIT):
        self._write = write
        self._on_overflow = on_overflow
        self._limit = limit
        self._frames: list[str] = []
        self._writer: asyncio.Task | None = None
        self._started = None  # (coroutine, what it waits on) of a write the task takes over
        self.stopped = False

    def put(self, frame: str) -> None:
        if self.stopped:
            return
        if len(self._frames) >= self._limit:
            self._stop()
            self._on_overflow()
            return
        if self._writer is None:
            self._write_now(frame)
        else:
            self._frames.append(frame)

    def _write_now(self, frame: str) -> None:
        # Servers' sends return without waiting unless the socket's buffer is full, so the
        # write is started here, in the caller, and a task is made only if it has to wait
        # (the same as an eager task of Python 3.12; a task per frame was most of the cost of
        # delivering one, in a profile).
        write = self._write(frame)
        try:
            awaited = write.send(None)
        except StopIteration:
            return
        except Exception as exc:
            self._failed(exc)
            return
        self._started = (write, awaited)
        self._writer = asyncio.ensure_future(self._drain())

    @property
    def writing(self) -> bool:
        """True while a task is writing (there are frames waiting or being written)."""
        return self._writer is not None

    async def close(self) -> None:
        """Stop, and cancel a write in progress."""
        self._stop()
        writer = self._writer
        if writer is not None:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            self._writer = None
        if self._started is not None:
            # A write started here whose task was cancelled before it took it over.
            self._started[0].close()
            self._started = None

    def _stop(self) -> None:
        self.stopped = True
        self._frames = []

    def _failed(self, exc: Exception) -> None:
        logger.info("Stopped writing to a socket: %r", exc)
        self._stop()

    async def _drain(self) -> None:
        try:
            if self._started is not None:
                await _resume(*self._started)
                self._started = None
            while self._frames:
                frames, self._frames = self._frames, []
                for frame in frames:
                    await self._write(frame)
        except Exception as exc:
            self._failed(exc)
        finally:
            self._writer = None


@types.coroutine
def _resume(coroutine, awaited):
    """Run the rest of a coroutine that was started by hand and is waiting on ``awaited``.

    What it waits on goes up to the task awaiting this, and what the task sends or throws
    (a result, a cancellation) goes down to it, until it returns.
    """
    while True:
        try:
            sent = yield awaited
        except BaseException as exc:
            step = functools.partial(coroutine.throw, exc)
        else:
            step = functools.partial(coroutine.send, sent)
        try:
            awaited = step()
        except StopIteration as done:
            return done.value
