"""Database connections on PostgreSQL: HTTP requests borrow from a pool, socket workers keep theirs.

These run a fresh process on a database of their own on the PostgreSQL server, in either pass.
"""

import json
import subprocess
import sys

from tests.servers import ROOT, postgres_database, server_env

SCRIPT = """
import asyncio, contextvars, json
from django.conf import settings
from django.db import DatabaseError, connection
from chat.realtime.db import database_sync_to_async

def backend():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]

def held():
    return connection.connection is not None

def die():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    except DatabaseError:
        return "broken"

socket_id = contextvars.ContextVar("socket_id")

def seen():
    return socket_id.get(None)

async def main():
    socket_id.set("socket-1")  # what the caller's context holds, the worker's call sees
    context = await database_sync_to_async(seen)()
    first = await database_sync_to_async(backend)()
    kept = await database_sync_to_async(held)()
    same = await database_sync_to_async(backend)() == first
    broken = await database_sync_to_async(die)()
    after_break = await database_sync_to_async(held)()
    replaced = await database_sync_to_async(backend)() != first
    return dict(context=context, kept=kept, same=same, broken=broken, after_break=after_break,
                replaced=replaced)

print(json.dumps(dict(
    pool=settings.DATABASES["default"]["OPTIONS"].get("pool"),
    conn_max_age=settings.DATABASES["default"]["CONN_MAX_AGE"],
    worker=asyncio.run(main()),
)))
"""


def run_script(database_url: str, **env) -> dict:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", SCRIPT],
        cwd=ROOT,
        env=server_env(database_url, CHAT_DB_THREADS="1", **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_postgresql_pools_request_connections_and_socket_workers_keep_theirs():
    with postgres_database() as url:
        report = run_script(url, DJANGO_DB_POOL_SIZE="5")
    assert report["pool"]["max_size"] == 1 + 5
    assert report["conn_max_age"] == 0
    worker = report["worker"]
    assert worker["context"] == "socket-1"
    # Kept between calls: the same server session answers the next call.
    assert worker["kept"] and worker["same"]
    # A connection that broke is given back, and the next call gets a new one.
    assert worker["broken"] == "broken"
    assert not worker["after_break"] and worker["replaced"]


def test_without_the_pool_connections_follow_conn_max_age():
    with postgres_database() as url:
        report = run_script(url, DJANGO_DB_POOL="0", DJANGO_CONN_MAX_AGE="0")
    assert report["pool"] is None and report["conn_max_age"] == 0
    # Closed after every call, as Django does at the end of a request.
    assert not report["worker"]["kept"] and not report["worker"]["same"]
    assert report["worker"]["context"] == "socket-1"
