"""Database calls from sockets: off the event loop, on threads that keep their connections."""

import asyncio
import contextvars
import functools
import threading
from concurrent.futures import ThreadPoolExecutor

from channels.db import database_sync_to_async as _channels_database_sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections

from chat.realtime import events


@functools.cache
def _executor() -> ThreadPoolExecutor | None:
    # SQLite takes one writer at a time: its calls queue in one thread rather than spin on its
    # lock. Other databases take concurrent work, each worker thread on its own connection.
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        return None
    return ThreadPoolExecutor(settings.CHAT_DB_THREADS, thread_name_prefix="chat-db")


def _on_kept_connection(function, *args, **kwargs):
    # A pooled connection goes back to the pool after every use (CONN_MAX_AGE is 0 with a
    # pool); a worker thread keeps the one it took instead, and gives it back only when broken.
    try:
        return function(*args, **kwargs)
    finally:
        for connection in connections.all(initialized_only=True):
            connection.close_at = None
            connection.close_if_unusable_or_obsolete()


def _on_checked_connection(function, *args, **kwargs):
    # Without a pool, as Channels does: connections past CONN_MAX_AGE or broken are closed
    # before and after the call.
    close_old_connections()
    try:
        return function(*args, **kwargs)
    finally:
        close_old_connections()


async def _in_executor(executor, call, function, *args, **kwargs):
    # One hop to a worker thread and back, carrying the caller's context variables. (asgiref's
    # sync_to_async also copies them back and wraps each function in an object per use, which
    # costs more per call, and a socket makes a few calls per frame.)
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(
        executor, functools.partial(context.run, call, function, *args, **kwargs)
    )


async def _holding_events(call, *args, **kwargs):
    with events.holding():
        return await call(*args, **kwargs)


def database_sync_to_async(function):
    """Run a database call from a socket off the event loop (see ``_executor``). The frames its
    changes send leave after it returns (``chat.realtime.events.holding``)."""
    executor = _executor()
    if executor is None:
        call = _channels_database_sync_to_async(function)
    else:
        on_connection = _on_kept_connection if settings.DB_POOL else _on_checked_connection
        call = functools.partial(_in_executor, executor, on_connection, function)
    return functools.partial(_holding_events, call)


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
