"""Broadcast frames on their way to one socket."""

import asyncio
import logging

logger = logging.getLogger(__name__)

# Frames waiting for a socket that does not read them; past this it is stopped (the client
# reconnects and catches up with sync) rather than holding memory without bound.
OUTBOX_LIMIT = 1000


class Outbox:
    """Frames written to one socket in order, by a task that exists only while some wait.

    An idle socket holds no queue and no task (a per-socket queue and writer task were a tenth
    of an idle connection's memory). ``put`` never blocks the fan-out: when ``limit`` frames
    wait, the outbox stops and calls ``on_overflow`` once. A write that fails (the socket went
    away) stops it too; its disconnect takes it out of the fan-out.
    """

    __slots__ = ("_frames", "_limit", "_on_overflow", "_write", "_writer", "stopped")

    def __init__(self, write, on_overflow, limit: int = OUTBOX_LIMIT):
        self._write = write
        self._on_overflow = on_overflow
        self._limit = limit
        self._frames: list[str] = []
        self._writer: asyncio.Task | None = None
        self.stopped = False

    def put(self, frame: str) -> None:
        if self.stopped:
            return
        if len(self._frames) >= self._limit:
            self._stop()
            self._on_overflow()
            return
        self._frames.append(frame)
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain())

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

    def _stop(self) -> None:
        self.stopped = True
        self._frames = []

    async def _drain(self) -> None:
        try:
            while self._frames:
                frames, self._frames = self._frames, []
                for frame in frames:
                    await self._write(frame)
        except Exception as exc:
            logger.info("Stopped writing to a socket: %r", exc)
            self._stop()
        finally:
            self._writer = None
