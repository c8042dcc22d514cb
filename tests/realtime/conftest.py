"""Fixtures of the real-time tests."""

import pytest

from tests.servers import RedisServer


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    """A private redis-server for the module's tests (they stop, restart or fill it)."""
    server = RedisServer({}, tmp_path_factory.mktemp("redis") / "redis.log").start()
    yield server
    server.stop()
