"""Registry writes are batched: many sockets in one store call, later writes replacing earlier
ones still waiting, failures logged and never raised."""

import time
import uuid

import pytest

from chat.realtime.registry import ConnectionRegistry
from chat.stores.base import Connection, StoreError


class RecordingStore:
    def __init__(self, fail=False):
        self.calls = []
        self.purges = []
        self.fail = fail

    def connections_write(self, *, put, remove):
        self.calls.append((list(put), list(remove)))
        if self.fail:
            raise StoreError("unreachable")

    def connections_purge(self, *, now, limit=1000):
        self.purges.append(now)
        return 0


@pytest.fixture
def store(monkeypatch):
    recording = RecordingStore()
    monkeypatch.setattr("chat.realtime.registry.get_store", lambda: recording)
    return recording


NOW = int(time.time())


def socket(n=0, **changes):
    fields = dict(connection_id=f"c{n}", user_id="1", connected_at=NOW * 1000, ttl=NOW + 60)
    return Connection(**{**fields, **changes})


async def test_a_burst_of_sockets_is_one_write(store):
    registry = ConnectionRegistry()
    for n in range(1000):
        registry.put(socket(n))
    await registry.flush()
    assert len(store.calls) == 1
    put, remove = store.calls[0]
    assert [c.connection_id for c in put] == [f"c{n}" for n in range(1000)] and remove == []


async def test_a_later_write_of_a_socket_replaces_the_one_still_waiting(store):
    registry = ConnectionRegistry()
    registry.put(socket(1))
    registry.put(socket(1, chat_id="joined"))
    registry.put(socket(2))
    registry.remove("c2")
    await registry.flush()
    assert store.calls == [([socket(1, chat_id="joined")], ["c2"])]
    registry.remove("c1")
    await registry.flush()
    assert store.calls[1] == ([], ["c1"])


async def test_nothing_runs_while_nothing_waits(store):
    registry = ConnectionRegistry()
    await registry.flush()
    assert store.calls == [] and registry._writer is None
    registry.put(socket())
    assert registry._writer is not None
    await registry.flush()
    assert registry._writer is None


async def test_a_failed_write_is_logged_and_later_writes_still_go(monkeypatch, caplog):
    failing = RecordingStore(fail=True)
    monkeypatch.setattr("chat.realtime.registry.get_store", lambda: failing)
    registry = ConnectionRegistry()
    registry.put(socket(uuid.uuid4().int))
    await registry.flush()
    assert "Connection registry" in caplog.text
    failing.fail = False
    registry.put(socket(7))
    await registry.flush()
    assert failing.calls[-1] == ([socket(7)], [])


async def test_expired_rows_are_purged_with_the_first_write_and_then_once_a_minute(
    store,
):
    clock = [1000.0]
    registry = ConnectionRegistry(clock=lambda: clock[0])
    registry.put(socket(1))
    await registry.flush()
    assert len(store.purges) == 1 and abs(store.purges[0] - time.time()) < 5
    clock[0] += 59
    registry.put(socket(2))
    await registry.flush()
    assert len(store.purges) == 1
    clock[0] += 1
    registry.remove("c1")
    await registry.flush()
    assert len(store.purges) == 2
