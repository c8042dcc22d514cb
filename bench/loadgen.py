"""The load generator: R chats x M members over real WebSockets.

Every member holds one socket joined to its chat. Each chat sends ``rate`` messages a second
from a random member; a message carries its send time, and every receiver (the sender too)
records the latency when its ``message`` frame arrives. Only messages sent after the warm-up
count; ``lost`` is what was expected at receivers and never arrived.
"""

import asyncio
import gc
import json
import random
import time
import uuid
from dataclasses import dataclass, field

from websockets.asyncio.client import connect


@dataclass
class Chat:
    """A chat to load: its id and one entry of socket headers per member."""

    chat_id: str
    members: list[dict]


@dataclass
class LoadResult:
    sent: int = 0
    expected: int = 0
    delivered: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float | None = None  # the server's CPU time in the measured window

    @property
    def lost(self) -> int:
        return self.expected - self.delivered

    def percentile(self, p: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def summary(self) -> dict:
        return {
            "sent": self.sent,
            "expected": self.expected,
            "delivered": self.delivered,
            "lost": self.lost,
            "lost_pct": round(100 * self.lost / self.expected, 2) if self.expected else 0.0,
            "deliveries_per_s": round(self.delivered / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": _round(self.percentile(50)),
            "p95_ms": _round(self.percentile(95)),
            "p99_ms": _round(self.percentile(99)),
            "max_ms": _round(max(self.latencies_ms) if self.latencies_ms else None),
            "cpu_s_per_1000": round(1000 * self.cpu_seconds / self.delivered, 3)
            if self.cpu_seconds is not None and self.delivered
            else None,
        }


def _round(value):
    return None if value is None else round(value, 1)


async def open_members(ws_url: str, origin: str, chats: list[Chat], *, concurrency: int = 100):
    """Open and join one socket per member; returns [(chat, [sockets])]."""
    gate = asyncio.Semaphore(concurrency)

    async def member(chat: Chat, headers: dict):
        async with gate:
            ws = await connect(
                ws_url, origin=origin, additional_headers=headers, max_queue=None, open_timeout=30
            )
            await ws.send(json.dumps({"action": "joinChat", "chatId": chat.chat_id}))
            while json.loads(await asyncio.wait_for(ws.recv(), 30)).get("type") != "joined":
                pass
            return ws

    opened = []
    for chat in chats:
        sockets = await asyncio.gather(*(member(chat, h) for h in chat.members))
        opened.append((chat, list(sockets)))
    return opened


async def run_load(
    opened,
    *,
    rate_per_chat: float,
    duration: float,
    warmup: float = 2.0,
    grace: float = 3.0,
    progress=None,
    cpu_probe=None,
) -> LoadResult:
    """Send at ``rate_per_chat`` for ``warmup + duration`` seconds and measure deliveries."""
    result = LoadResult()
    run_id = uuid.uuid4().hex[:8]  # clientMessageIds must not repeat across runs on one socket
    measured_from = time.monotonic() + warmup
    ends_at = measured_from + duration
    counted: set[str] = set()  # ids of messages sent inside the measured window
    stop_reading = asyncio.Event()

    async def reader(ws):
        try:
            while not stop_reading.is_set():
                try:
                    text = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                if '"type":"message"' not in text and '"type": "message"' not in text:
                    continue
                body = json.loads(text)["message"]["message"]
                sent_ns, _, message_id = body.partition("|")
                if message_id in counted:
                    result.delivered += 1
                    result.latencies_ms.append((time.perf_counter_ns() - int(sent_ns)) / 1e6)
        except Exception:  # a closed socket just stops counting
            return

    async def sender(index, chat, sockets, offset):
        interval = 1.0 / rate_per_chat
        next_at = time.monotonic() + offset
        n = 0
        while True:
            now = time.monotonic()
            if now >= ends_at:
                return
            if next_at > now:
                await asyncio.sleep(next_at - now)
            if time.monotonic() >= ends_at:
                return
            next_at += interval
            message_id = f"{run_id}-{index}-{n}"
            n += 1
            if time.monotonic() >= measured_from:
                counted.add(message_id)
                result.sent += 1
                result.expected += len(sockets)
            frame = {
                "action": "sendMessage",
                "chatId": chat.chat_id,
                "message": f"{time.perf_counter_ns()}|{message_id}",
                "clientMessageId": message_id,
            }
            try:
                await random.choice(sockets).send(json.dumps(frame))
            except Exception:
                return

    async def measure_cpu():
        await asyncio.sleep(max(0.0, measured_from - time.monotonic()))
        start = cpu_probe()
        await asyncio.sleep(max(0.0, ends_at - time.monotonic()))
        result.cpu_seconds = cpu_probe() - start

    async def report():
        while time.monotonic() < ends_at:
            await asyncio.sleep(5)
            if progress and time.monotonic() > measured_from:
                elapsed = time.monotonic() - measured_from
                progress(
                    f"  {elapsed:4.0f}/{duration:.0f} s  sent {result.sent}  "
                    f"delivered {result.delivered}/{result.expected}"
                )

    readers = [asyncio.create_task(reader(ws)) for _, sockets in opened for ws in sockets]
    reporter = asyncio.create_task(report())
    cpu_task = asyncio.create_task(measure_cpu()) if cpu_probe else None
    # This process's own garbage collections paused it for up to 80 ms while a thousand
    # sockets were open, and every message in flight then counted the pause as latency. The
    # collector waits until the run is over (a run allocates a few MB).
    gc.collect()
    gc.disable()
    try:
        await asyncio.gather(
            *(
                sender(index, chat, sockets, random.uniform(0, 1.0 / rate_per_chat))
                for index, (chat, sockets) in enumerate(opened)
            )
        )
        deadline = time.monotonic() + grace
        while result.delivered < result.expected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        gc.enable()
    result.seconds = duration
    if cpu_task is not None:
        await cpu_task
    stop_reading.set()
    reporter.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    return result


async def close_all(opened) -> None:
    await asyncio.gather(
        *(ws.close() for _, sockets in opened for ws in sockets), return_exceptions=True
    )
