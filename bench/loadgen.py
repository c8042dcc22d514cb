"""The load generator: R chats x M members over real WebSockets.

Every member holds one socket joined to its chat. Sockets open and join all at once, as a
crowd reconnecting after a deploy does; each join's latency is recorded, and a join refused as
retryable is tried again (counted). Each chat sends ``rate`` messages a second from a random
member; a message carries its send time, and every receiver (the sender too) records the
latency when its ``message`` frame arrives. Only messages sent after the warm-up count;
``lost`` is what was expected at receivers and never arrived.
"""

import asyncio
import contextlib
import gc
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake


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
        return _percentile(self.latencies_ms, p)

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


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass
class Joins:
    """How a crowd of sockets connected and joined its chats."""

    latencies_ms: list[float] = field(default_factory=list)  # joinChat sent -> joined
    retries: int = 0  # joins refused as retryable and sent again
    reconnects: int = 0  # handshakes that failed and were tried again, as clients do
    errors: Counter = field(default_factory=Counter)  # why handshakes failed
    seconds: float = 0.0  # from the first connect to the last socket joined

    def summary(self) -> dict:
        return {
            "sockets": len(self.latencies_ms),
            "all_joined_s": round(self.seconds, 2),
            "join_p50_ms": _round(_percentile(self.latencies_ms, 50)),
            "join_p99_ms": _round(_percentile(self.latencies_ms, 99)),
            "join_max_ms": _round(max(self.latencies_ms, default=None)),
            "join_retries": self.retries,
            "reconnects": self.reconnects,
            "handshake_errors": dict(self.errors),
        }


JOIN_TRIES = 50


CONNECT_TRIES = 10


async def _connect(ws_url: str, origin: str, headers: dict, joins: Joins):
    """A socket; a failed handshake is tried again after a short backoff (a reconnecting
    client's, counted), as a server that is overwhelmed refuses or drops some."""
    for attempt in range(CONNECT_TRIES):
        try:
            return await connect(
                ws_url, origin=origin, additional_headers=headers, max_queue=None,
                open_timeout=30,
            )  # fmt: skip
        except (OSError, TimeoutError, InvalidHandshake) as error:
            joins.errors[type(error).__name__] += 1
            if attempt == CONNECT_TRIES - 1:
                raise
            joins.reconnects += 1
            await asyncio.sleep(min(0.2 * 2**attempt, 3.0) * random.uniform(0.5, 1.5))


async def connect_and_join(ws_url: str, origin: str, chat_id: str, headers: dict, joins: Joins):
    """One member's socket, joined to its chat (a retryable refusal is retried)."""
    ws = await _connect(ws_url, origin, headers, joins)
    request = json.dumps({"action": "joinChat", "chatId": chat_id})
    for _ in range(JOIN_TRIES):
        sent = time.perf_counter()
        await ws.send(request)
        while True:  # frames of the chat may come before `joined`
            reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if reply.get("type") in ("joined", "error"):
                break
        if reply["type"] == "joined":
            joins.latencies_ms.append((time.perf_counter() - sent) * 1000)
            return ws
        if not reply.get("retryable"):
            raise RuntimeError(f"join refused: {reply}")
        joins.retries += 1
        await asyncio.sleep(0.2)
    raise RuntimeError(f"not joined after {JOIN_TRIES} tries")


async def open_members(ws_url: str, origin: str, chats: list[Chat]):
    """Open and join one socket per member, all at once; returns ([(chat, [sockets])], joins)."""
    joins = Joins()
    started = time.perf_counter()
    opened = await asyncio.gather(
        *(_members(ws_url, origin, chat, joins) for chat in chats)
    )  # fmt: skip
    joins.seconds = time.perf_counter() - started
    return list(opened), joins


async def _members(ws_url, origin, chat: Chat, joins: Joins):
    sockets = await asyncio.gather(
        *(connect_and_join(ws_url, origin, chat.chat_id, h, joins) for h in chat.members)
    )
    return chat, list(sockets)


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


@dataclass
class StormResult:
    """Sockets joining all at once while their chats talk: how the joins went, and whether the
    messages sent meanwhile reached everyone joined before they were sent, in seq order."""

    joins: Joins
    sent: int = 0
    expected: int = 0  # deliveries to members whose `joined` came before the message was sent
    delivered: int = 0  # of those, received live
    out_of_order: int = 0  # message frames whose seq was not above the last one received
    join_failures: int = 0  # sockets that could not connect or join at all
    server_cpu_s: float | None = None  # the server's CPU time from the start until all joined

    def summary(self) -> dict:
        sockets = len(self.joins.latencies_ms)
        cpu = self.server_cpu_s
        return {
            **self.joins.summary(),
            "server_cpu_ms_per_socket": round(cpu * 1000 / sockets, 2) if cpu and sockets else None,
            "join_failures": self.join_failures,
            "sent": self.sent,
            "expected": self.expected,
            "delivered": self.delivered,
            "lost": self.expected - self.delivered,
            "out_of_order": self.out_of_order,
        }


async def run_storm(
    ws_url: str, origin: str, chats: list[Chat], *, rate_per_chat: float, after: float,
    grace: float = 3.0, limit: float = 60.0, server_cpu: Callable[[], float] | None = None,
) -> StormResult:  # fmt: skip
    """Every member connects and joins at once; each chat sends ``rate_per_chat`` messages a
    second from a member already joined, from the start of the storm until ``after`` seconds
    past the last join (or ``limit`` seconds in all). ``server_cpu``, if given, reads the
    server's CPU seconds: the result says how much it used until every socket had joined."""
    result = StormResult(Joins())
    joins = result.joins
    run_id = uuid.uuid4().hex[:8]
    joined: dict[str, list] = {chat.chat_id: [] for chat in chats}  # chat -> [(ws, joined_at)]
    received: set[tuple[str, int]] = set()  # (message id, receiver's id)
    sends: list[tuple[str, str, float]] = []  # (chat id, message id, sent at)
    everyone_joined = asyncio.Event()
    sockets = sum(len(chat.members) for chat in chats)
    cpu_at_start = server_cpu() if server_cpu else None
    started = time.perf_counter()

    async def member(chat: Chat, headers: dict):
        try:
            ws = await connect_and_join(ws_url, origin, chat.chat_id, headers, result.joins)
        except Exception:
            result.join_failures += 1
            ws = None
        else:
            joined[chat.chat_id].append((ws, time.perf_counter()))
        if len(result.joins.latencies_ms) + result.join_failures == sockets:
            result.joins.seconds = time.perf_counter() - started
            if server_cpu:
                result.server_cpu_s = server_cpu() - cpu_at_start
            everyone_joined.set()
        if ws is None:
            return
        last_seq = 0
        with contextlib.suppress(Exception):  # a closed socket just stops counting
            async for text in ws:
                if '"type":"message"' not in text:
                    continue
                frame = json.loads(text)
                seq = frame["message"]["seq"]
                if seq <= last_seq:
                    result.out_of_order += 1
                last_seq = max(last_seq, seq)
                received.add((frame["message"]["clientMessageId"], id(ws)))

    async def sender(index: int, chat: Chat):
        interval, n = 1.0 / rate_per_chat, 0
        await asyncio.sleep(random.uniform(0, interval))
        while True:
            elapsed = time.perf_counter() - started
            if elapsed > limit or (everyone_joined.is_set() and elapsed > joins.seconds + after):
                return
            if joined[chat.chat_id]:
                ws, _ = random.choice(joined[chat.chat_id])
                message_id = f"{run_id}-{index}-{n}"
                n += 1
                sends.append((chat.chat_id, message_id, time.perf_counter()))
                frame = {"action": "sendMessage", "chatId": chat.chat_id,
                         "message": message_id, "clientMessageId": message_id}  # fmt: skip
                with contextlib.suppress(Exception):
                    await ws.send(json.dumps(frame))
            await asyncio.sleep(interval)

    gc.collect()
    gc.disable()
    members = [asyncio.ensure_future(member(c, h)) for c in chats for h in c.members]
    try:
        await asyncio.gather(*(sender(i, c) for i, c in enumerate(chats)))
        await asyncio.sleep(grace)
    finally:
        gc.enable()
    if not everyone_joined.is_set():
        result.joins.seconds = limit  # not everyone joined within the run
    for chat_id, message_id, sent_at in sends:
        result.sent += 1
        for ws, joined_at in joined[chat_id]:
            if joined_at < sent_at:
                result.expected += 1
                result.delivered += (message_id, id(ws)) in received
    await asyncio.gather(
        *(ws.close() for sockets in joined.values() for ws, _ in sockets), return_exceptions=True
    )
    for task in members:
        task.cancel()
    await asyncio.gather(*members, return_exceptions=True)
    return result
