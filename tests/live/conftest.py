"""A daphne server for the live tests, shared by a test module."""

import pytest

from tests.servers import Daphne, migrate, server_database, server_env


@pytest.fixture(scope="module")
def daphne(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("daphne")
    with server_database(tmp) as database_url:
        env = server_env(database_url)
        migrate(env)
        server = Daphne(env, tmp / "daphne.log").start()
        yield server
        server.stop()
