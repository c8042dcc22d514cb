"""Database calls from sockets: off the event loop, on threads that keep their connections."""

import functools
import threading
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async as _channels_database_sync_to_async
from django.conf import settings
from django.db import connections


@functools.cache
def _executor() -> ThreadPoolExecutor | None:
    # SQLite takes one writer at a time: its calls queue in one thread rather than spin on its
    # lock. Other databases take concurrent work, each worker thread on its own connection.
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        return None
    return ThreadPoolExecutor(settings.CHAT_DB_THREADS, thread_name_prefix="chat-db")


def _on_kept_connection(function):
    # A pooled connection goes back to the pool after every use (CONN_MAX_AGE is 0 with a
    # pool); a worker thread keeps the one it took instead, and gives it back only when broken.
    @functools.wraps(function)
    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            for connection in connections.all(initialized_only=True):
                connection.close_at = None
                connection.close_if_unusable_or_obsolete()

    return call


def database_sync_to_async(function):
    """Run a database call from a socket off the event loop (see ``_executor``)."""
    executor = _executor()
    if executor is None:
        return _channels_database_sync_to_async(function)
    if settings.DB_POOL:
        return sync_to_async(
            _on_kept_connection(function), thread_sensitive=False, executor=executor
        )
    return _channels_database_sync_to_async(function, thread_sensitive=False, executor=executor)


def close_worker_connections(timeout: float = 10) -> None:
    """Give back every worker thread's connection (before a database is dropped, say).

    One task per worker, each holding its thread at a barrier until all have closed theirs, so
    that every thread runs exactly one.
    """
    executor = _executor()
    if executor is None:
        return
    barrier = threading.Barrier(settings.CHAT_DB_THREADS)

    def close():
        connections.close_all()
        barrier.wait(timeout)

    for task in [executor.submit(close) for _ in range(settings.CHAT_DB_THREADS)]:
        task.result(timeout)
