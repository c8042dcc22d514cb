"""Run the benchmark scenarios against the chat and its baselines; write JSON and Markdown.

    python -m bench.run                # everything (about 25 minutes), as `make bench`
    python -m bench.run --quick        # a few seconds: the load tool works end to end
    python -m bench.run --only S1 S6   # some scenarios

Servers run pinned to core 0 (``taskset -c 0``); this process, the load, runs on core 1.
"""

import argparse
import asyncio
import contextlib
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvloop

from bench.loadgen import Chat, close_all, open_members, run_load, run_storm
from tests.servers import (
    ROOT,
    Daphne,
    RedisServer,
    daphne_command,
    migrate,
    port_open,
    postgres_database,
    server_env,
    uvicorn_command,
)

RESULTS = ROOT / "bench" / "results"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def say(text: str) -> None:
    print(text, flush=True)


def pinned(command: list[str]) -> list[str]:
    return ["taskset", "-c", "0", *command] if os.cpu_count() and os.cpu_count() > 1 else command


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and its live children (uvicorn's and nginx's workers)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += cpu_seconds(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Server(Daphne):
    """A benchmarked server, pinned to core 0; ready when its port answers."""

    def __init__(self, name: str, command, env: dict, log_path: Path, *, pin: bool = True):
        super().__init__(env, log_path)
        self.name = name
        self._command = command
        self.pin = pin

    def command(self):
        command = self._command(self.port)
        return pinned(command) if self.pin else command

    def ready(self):
        return port_open(self.port)


@dataclass
class Target:
    """One row of the tables: a server and what it runs on."""

    name: str
    kind: str  # "app", "raw" or "channels"
    server: str = "daphne"  # "daphne" or "uvicorn"
    backends: str = "embedded"  # app: "embedded" or "redis-pg"; channels: the layer
    # An Elastic Beanstalk instance as deployed: the bundle's nginx in front, this many uvicorn
    # worker processes, all of it free to use both cores (the load shares core 1).
    instance_workers: int = 0

    def is_app(self) -> bool:
        return self.kind == "app"


TARGETS = {
    "raw": Target("raw websockets broadcast (baseline)", "raw"),
    "ch-memory": Target("Channels tutorial, in-memory layer", "channels", backends="memory"),
    "ch-redis": Target("Channels tutorial, RedisChannelLayer", "channels", backends="redis"),
    "ch-pubsub": Target("Channels tutorial, RedisPubSubLayer", "channels", backends="pubsub"),
    "app-daphne": Target("chat, daphne, embedded (SQLite)", "app"),
    "app-uvicorn": Target("chat, uvicorn, embedded (SQLite)", "app", "uvicorn"),
    "app-daphne-prod": Target("chat, daphne, PostgreSQL + Redis", "app", "daphne", "redis-pg"),
    "app-uvicorn-prod": Target("chat, uvicorn, PostgreSQL + Redis", "app", "uvicorn", "redis-pg"),
    "instance-1": Target("instance: nginx + 1 uvicorn worker, PostgreSQL + Redis", "app",
                         "uvicorn", "redis-pg", instance_workers=1),
    "instance-2": Target("instance: nginx + 2 uvicorn workers, PostgreSQL + Redis", "app",
                         "uvicorn", "redis-pg", instance_workers=2),
}  # fmt: skip


class Deployment:
    """A running target plus what its load needs (chats and their members' cookies)."""

    def __init__(self, target: Target, tmp: Path):
        self.target = target
        self.tmp = tmp
        self.stack = contextlib.ExitStack()
        self.env = None
        self.server = None  # what the load connects to (nginx in front of an instance's app)
        self.app = None

    def __enter__(self):
        target, env = self.target, dict(os.environ)
        if target.kind == "raw":
            command = lambda port: [sys.executable, "-m", "bench.baselines.raw_ws", str(port)]  # noqa: E731
        elif target.kind == "channels":
            if target.backends != "memory":
                redis = self.stack.enter_context(_redis(self.tmp))
                env["BENCH_REDIS_URL"] = redis.url
            env.update(
                BENCH_LAYER=target.backends,
                DJANGO_SETTINGS_MODULE="bench.baselines.channels_room.settings",
            )
            command = functools.partial(
                daphne_command, app="bench.baselines.channels_room.asgi:application"
            )
        else:
            if target.backends == "redis-pg":
                redis = self.stack.enter_context(_redis(self.tmp))
                database_url = self.stack.enter_context(postgres_database())
                env = server_env(database_url, REDIS_URL=redis.url)
            else:
                env = server_env(f"sqlite:///{self.tmp / 'bench.sqlite3'}")
            # Production mode (no debug cursors, no query log), over plain HTTP on loopback.
            env.update(
                DJANGO_DEBUG="0",
                DJANGO_SECRET_KEY="benchmark-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
                DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
                DJANGO_SECURE_SSL_REDIRECT="0",
                DJANGO_STATIC_FROM_FINDERS="1",
                DJANGO_LOG_LEVEL="WARNING",
                CHAT_RATE_BURST="1000",
                CHAT_RATE_PER_SECOND="1000",
            )
            migrate(env)
            command = daphne_command if target.server == "daphne" else uvicorn_command
            if target.instance_workers > 1:
                workers = ["--workers", str(target.instance_workers)]
                command = lambda port, base=command: [*base(port), *workers]  # noqa: E731
                env["PROMETHEUS_MULTIPROC_DIR"] = str(self.tmp / "prometheus")
        self.env = env
        pin = not target.instance_workers
        self.app = Server(target.name, command, env, self.tmp / "server.log", pin=pin)
        self.app.start(timeout=60)
        self.stack.callback(self.app.stop)
        self.server = self.app
        if target.instance_workers:
            from bench.nginx import Nginx

            self.server = Nginx(self.app.port, self.tmp / "nginx").start(timeout=30)
            self.stack.callback(self.server.stop)
        return self

    def __exit__(self, *exc):
        self.stack.close()

    def chats(self, rooms: int, members: int) -> list[Chat]:
        if not self.target.is_app():
            return [Chat(f"room-{r:04d}-{time.time_ns()}", [{}] * members) for r in range(rooms)]
        made = json.loads(self.prepare("chats", str(rooms), str(members)))
        return [
            Chat(c["chatId"], [{"Cookie": f"sessionid={s}"} for s in c["sessions"]]) for c in made
        ]

    def prepare(self, *args) -> str:
        return subprocess.run(
            [sys.executable, "-m", "bench.setup_app", *args],
            cwd=ROOT, env=self.env, check=True, capture_output=True, text=True, timeout=1800,
        ).stdout  # fmt: skip

    def cpu(self) -> float:
        """The server's CPU; for an instance, its app processes' and nginx's together."""
        if not self.target.instance_workers:
            return cpu_seconds(self.app.process.pid)
        return tree_cpu_seconds(self.app.process.pid) + tree_cpu_seconds(self.server.process.pid)

    def restart(self) -> None:
        """Stop the server (SIGTERM, as a deploy does) and start it again on the same port."""
        self.app.stop()
        self.app.start(timeout=60)


@contextlib.contextmanager
def _redis(tmp: Path):
    redis = RedisServer({}, tmp / "redis.log").start()
    try:
        yield redis
    finally:
        redis.stop()


async def load(deployment, rooms, members, rate, duration, *, warmup=2.0):
    chats = deployment.chats(rooms, members)
    opened, joins = await open_members(deployment.server.ws_url, deployment.server.url, chats)
    try:
        result = await run_load(
            opened, rate_per_chat=rate, duration=duration, warmup=warmup,
            progress=say, cpu_probe=deployment.cpu,
        )  # fmt: skip
    finally:
        await close_all(opened)
    return {**result.summary(), "joins": joins.summary()}


# --- scenarios ---


async def s1(deployment, quick=False):
    """100 chats x 10 members, 5 msg/s per chat: 5,000 deliveries/s."""
    if quick:
        return await load(deployment, 2, 3, 5, 2, warmup=0.5)
    return await load(deployment, 100, 10, 5, 20)


async def s2(deployment, quick=False):
    """Capacity: raise the rate until loss > 0 or p99 > 250 ms; the highest sustained.

    The rate doubles until a step fails, then three halvings of the gap between the last step
    that held and the first that failed find the limit to within an eighth of that gap.
    """
    chats = deployment.chats(100, 10)
    opened, _ = await open_members(deployment.server.ws_url, deployment.server.url, chats)
    steps, held, failed = [], None, None

    async def step(rate):
        say(f"  S2 step: {rate:g} msg/s per chat ({int(rate * 1000)} deliveries/s offered)")
        result = (
            await run_load(
                opened, rate_per_chat=rate, duration=8, warmup=2, grace=5,
                cpu_probe=deployment.cpu,
            )
        ).summary()  # fmt: skip
        steps.append({"rate_per_chat": rate, **result})
        ok = result["lost"] == 0 and (result["p99_ms"] or 0) <= 250
        await asyncio.sleep(1 if ok else 5)  # an overloaded server drains before the next
        return ok, result

    try:
        rate = 1.0
        while failed is None and rate <= 128:
            ok, result = await step(rate)
            if ok:
                held = (rate, result["deliveries_per_s"])
                rate *= 2
            else:
                failed = rate
        low = held[0] if held else 0.0
        for _ in range(3 if failed is not None and held is not None else 0):
            rate = round((low + failed) / 2, 3)
            ok, result = await step(rate)
            if ok:
                held, low = (rate, result["deliveries_per_s"]), rate
            else:
                failed = rate
    finally:
        await close_all(opened)
    return {"sustained_deliveries_per_s": held[1] if held else None, "steps": steps}


async def s3(deployment, quick=False):
    """One chat with 500 members at 2 msg/s: 1,000 deliveries/s."""
    return await load(deployment, 1, 500, 2, 20)


async def s4(deployment, quick=False):
    """Memory per idle connection, at 2,000 sockets."""
    chats = deployment.chats(200, 10)
    await asyncio.sleep(1)
    before = rss_kib(deployment.server.process.pid)
    opened, _ = await open_members(deployment.server.ws_url, deployment.server.url, chats)
    await asyncio.sleep(3)
    after = rss_kib(deployment.server.process.pid)
    await close_all(opened)
    sockets = sum(len(s) for _, s in opened)
    return {"sockets": sockets, "rss_before_kib": before, "rss_after_kib": after,
            "kib_per_socket": round((after - before) / sockets, 1)}  # fmt: skip


async def s5(deployment, quick=False):
    """Latency of a 50-message history page in chats of 10k and 1M messages."""
    out = {}
    for count in (10_000, 1_000_000):
        say(f"  S5: filling a chat with {count:,} messages")
        chat = json.loads(deployment.prepare("history", str(count)))
        url = f"{deployment.server.url}/api/chats/{chat['chatId']}/messages"
        timings, cursor = [], None
        with httpx.Client(cookies={"sessionid": chat["session"]}, timeout=10) as http:
            for n in range(520):
                params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
                started = time.perf_counter()
                response = http.get(url, params=params)
                elapsed = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                if n >= 20:  # warm-up
                    timings.append(elapsed)
                # Walk back 10 pages, then start from the newest again.
                cursor = response.json()["nextCursor"] if n % 10 else None
        timings.sort()
        out[f"{count}"] = {
            "requests": len(timings),
            "p50_ms": round(timings[len(timings) // 2], 2),
            "p99_ms": round(timings[int(len(timings) * 0.99)], 2),
        }
    out["ratio_1m_to_10k_p99"] = round(out["1000000"]["p99_ms"] / out["10000"]["p99_ms"], 2)
    return out


async def s6(deployment, quick=False):
    """Reconnect storm: 2,000 sockets over 200 chats connect and join at once against a
    running server, then again right after a restart; each chat sends 1 message/s meanwhile."""
    rooms, members, after = (4, 5, 1.0) if quick else (200, 10, 5.0)
    chats = deployment.chats(rooms, members)
    out = {}
    for phase in ("running", "after_restart"):
        if phase == "after_restart":
            deployment.restart()
        say(f"  S6: storm of {rooms * members} sockets ({phase.replace('_', ' ')})")
        result = await run_storm(
            deployment.server.ws_url, deployment.server.url, chats, rate_per_chat=1.0,
            after=after, server_cpu=deployment.cpu,
        )  # fmt: skip
        out[phase] = result.summary()
    return out


async def s7(deployment, quick=False):
    """One instance's capacity as deployed (nginx, uvicorn workers): S1's latency, then S2's
    capacity, on the same server."""
    latency = await s1(deployment, quick)
    capacity = await s2(deployment, quick) if not quick else None
    return {"S1": latency, "S2": capacity}


SCENARIOS = {
    "S1": (s1, ["raw", "ch-memory", "ch-redis", "ch-pubsub", "app-daphne", "app-uvicorn",
                "app-daphne-prod", "app-uvicorn-prod"]),
    "S2": (s2, ["ch-memory", "ch-redis", "ch-pubsub", "app-uvicorn", "app-uvicorn-prod",
                "app-daphne-prod"]),
    "S3": (s3, ["ch-pubsub", "app-uvicorn-prod", "app-daphne-prod"]),
    "S4": (s4, ["raw", "app-uvicorn-prod", "app-daphne-prod"]),
    "S5": (s5, ["app-uvicorn-prod"]),
    "S6": (s6, ["app-uvicorn-prod", "app-daphne-prod"]),
    "S7": (s7, ["instance-1", "instance-2"]),
}  # fmt: skip


async def run(only, quick, limit=None) -> dict:
    results = {}
    quick_plan = {"S1": (s1, ["app-daphne"]), "S6": (s6, ["app-uvicorn"])}
    plan = quick_plan if quick else {k: SCENARIOS[k] for k in only}
    for scenario, (function, targets) in plan.items():
        results[scenario] = {}
        for key in targets:
            if limit and key not in limit:
                continue
            target = TARGETS[key]
            say(f"{scenario} on {target.name}")
            try:
                with tempfile.TemporaryDirectory() as tmp, Deployment(target, Path(tmp)) as d:
                    results[scenario][key] = await function(d, quick)
            except Exception as error:  # one failed run must not lose the others
                if quick:
                    raise
                results[scenario][key] = {"error": f"{type(error).__name__}: {error}"}
            say(f"  -> {json.dumps(results[scenario][key])[:400]}")
    return results


def machine() -> dict:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds' smoke run")
    parser.add_argument("--only", nargs="*", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument("--targets", nargs="*", choices=list(TARGETS), help="limit the servers")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args()
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    started = time.time()
    # The load runs on uvloop, as the servers do: on asyncio's own loop, opening 2,000 sockets at
    # once kept the load's one core busy for about a second while the server under test idled.
    results = uvloop.run(run(args.only, args.quick, args.targets))
    report = {"machine": machine(), "seconds": round(time.time() - started), "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    say(f"wrote {args.out}")
    if args.quick or args.targets or set(args.only) != set(SCENARIOS):
        say("partial run: docs/benchmarks.md is left as it is")
        return
    from bench.report import write_markdown

    write_markdown(report, ROOT / "docs" / "benchmarks.md")
    say("wrote docs/benchmarks.md")


if __name__ == "__main__":
    main()
