"""The app's metrics: Prometheus counters and histograms, served at ``/metrics`` and sent to
CloudWatch as embedded-metric-format log lines.

With several worker processes, set ``PROMETHEUS_MULTIPROC_DIR`` (an empty directory, emptied
at each start): every process writes its values there and ``/metrics`` adds them up. Hot paths
count in batches (one increment per broadcast, not per socket).
"""

import functools
import logging
import os
import threading
import time
from contextlib import contextmanager

from django.conf import settings
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

logger = logging.getLogger("chat.metrics")

if settings.PROMETHEUS_MULTIPROC_DIR:
    # Each process's values are files there; the directory must exist before the first metric.
    os.makedirs(settings.PROMETHEUS_MULTIPROC_DIR, exist_ok=True)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

SOCKETS_OPENED = Counter("chat_sockets_opened", "Sockets accepted.")
SOCKETS_CLOSED = Counter("chat_sockets_closed", "Sockets closed, by either side.")
SOCKETS_OPEN = Gauge("chat_sockets_open", "Sockets open now.", multiprocess_mode="livesum")
JOINS = Counter("chat_joins", "Chats joined by sockets (live delivery set up).")
MESSAGES_STORED = Counter("chat_messages_stored", "Messages stored (retries not counted).")
FRAMES_DELIVERED = Counter("chat_frames_delivered", "Frames handed to sockets by the fan-out.")
BROADCAST_FAILURES = Counter(
    "chat_broadcast_failures", "Broadcasts the fan-out could not take (members catch up by sync)."
)
STORE_SECONDS = Histogram(
    "chat_store_seconds", "Message store calls.", ["operation"], buckets=LATENCY_BUCKETS
)
REDIS_SECONDS = Histogram(
    "chat_redis_seconds", "Redis calls of the fan-out.", ["operation"], buckets=LATENCY_BUCKETS
)
HISTORY_SECONDS = Histogram(
    "chat_history_seconds", "History pages served (REST and sync).", buckets=LATENCY_BUCKETS
)


@contextmanager
def timed(histogram, **labels):
    """Observe how long the block takes (also when it raises)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        (histogram.labels(**labels) if labels else histogram).observe(time.perf_counter() - started)


def observed(histogram):
    """A decorator: each call of the function is timed into ``histogram``."""

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with timed(histogram):
                return function(*args, **kwargs)

        return wrapper

    return decorate


def exposition() -> tuple[bytes, str]:
    """The metrics as Prometheus reads them: every worker process's, added up, when
    ``PROMETHEUS_MULTIPROC_DIR`` is set; else this process's."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def socket_closed() -> None:
    SOCKETS_CLOSED.inc()
    SOCKETS_OPEN.dec()


def socket_opened() -> None:
    SOCKETS_OPENED.inc()
    SOCKETS_OPEN.inc()


# -- CloudWatch: the same counters, as embedded-metric-format lines in the JSON log ------------

# CloudWatch name -> the counter it reports (per process; CloudWatch adds the processes up).
CLOUDWATCH_COUNTERS = {
    "MessagesStored": MESSAGES_STORED,
    "MessagesDelivered": FRAMES_DELIVERED,
    "SocketsOpened": SOCKETS_OPENED,
    "SocketsClosed": SOCKETS_CLOSED,
    "Joins": JOINS,
    "BroadcastFailures": BROADCAST_FAILURES,
}


def _value(counter) -> float:
    return counter._value.get()  # this process's value (prometheus_client keeps it per process)


class CloudWatchReporter:
    """Every ``interval`` seconds, one log line in CloudWatch's embedded metric format with how
    much each counter grew (CloudWatch Logs turns it into metrics of ``namespace``)."""

    def __init__(self, namespace: str, interval: float = 60.0):
        self.namespace = namespace
        self.interval = interval
        self._last = {name: _value(c) for name, c in CLOUDWATCH_COUNTERS.items()}

    def record(self) -> dict:
        """The embedded-metric-format document for the growth since the last one."""
        now = {name: _value(c) for name, c in CLOUDWATCH_COUNTERS.items()}
        grown = {name: now[name] - self._last[name] for name in now}
        self._last = now
        return {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [[]],
                        "Metrics": [{"Name": name, "Unit": "Count"} for name in grown],
                    }
                ],
            },
            **grown,
        }

    def report(self) -> None:
        logger.info("metrics", extra=self.record())

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                self.report()
            except Exception:
                logger.exception("Could not report metrics")

    def start(self) -> "CloudWatchReporter":
        threading.Thread(target=self._run, name="cloudwatch-metrics", daemon=True).start()
        return self
