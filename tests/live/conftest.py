"""A server process for the live tests, shared by a test module: daphne and uvicorn in turn
(the app must behave the same under both)."""

import pytest

from tests.servers import Daphne, Uvicorn, migrated, server_database, server_env


@pytest.fixture(scope="module", params=[Daphne, Uvicorn], ids=["daphne", "uvicorn"])
def server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param.name)
    with server_database(tmp) as database_url:
        env = server_env(database_url)
        migrated(env)
        process = request.param(env, tmp / "server.log").start()
        yield process
        process.stop()
