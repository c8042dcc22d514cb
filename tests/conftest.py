"""Shared fixtures: factories for users and chats, and a logged-in API client."""

import itertools
import os
from collections import Counter
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from chat import services
from chat.realtime.db import close_worker_connections
from tests.servers import AWS_TEST_ENV, MotoServer

_numbers = itertools.count(1)
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session", autouse=True)
def _socket_connections_given_back(django_db_setup, django_db_blocker):
    """Socket worker threads keep their connections; they give them back before the test
    database is dropped (which fails while a session uses it)."""
    yield
    with django_db_blocker.unblock():
        close_worker_connections()


@pytest.fixture
async def _socket_writes_done():
    """Writes sockets leave behind when they close (the connection registry's batch, presence)
    finish before the test's database is emptied: a write still on its way would hold row locks
    the emptying waits for, while it waits for the emptying (a deadlock on PostgreSQL)."""
    yield
    from chat.realtime.registry import get_registry

    await get_registry().flush()


# Fixtures that start a server process of their own (moto_server, redis-server, the OpenID
# Connect provider): a test using one is marked "servers", and `make test-fast` leaves it out.
SERVER_FIXTURES = {"moto_server", "dynamodb_store", "redis_server", "idp", "s3_media"}


# Tests whose outcome can depend on the database engine: the ORM store's SQL and full-text
# search, row locks and upserts, sockets' database threads (a pool of them on PostgreSQL),
# connection handling, outages. They are marked "engine": `make test` runs the whole suite on
# SQLite and these again on PostgreSQL. (Tests marked "cluster" run their servers on PostgreSQL
# whatever the suite's database.)
ENGINE_DEPENDENT = (
    "stores/",
    "realtime/",
    "moderation/",
    "ops/",
    "identity/test_tokens.py",
    "test_services.py",
    "test_presence.py",
    "test_replies.py",
    "test_views.py",
    "test_admin.py",
    "test_accounts.py",
    "test_commands.py",
    "test_settings.py",
    "test_outages.py",
)
TESTS = Path(__file__).resolve().parent
assert all((TESTS / path).exists() for path in ENGINE_DEPENDENT), "a moved engine test"


def pytest_collection_modifyitems(items):
    # Tests that share a node id (schemathesis's generated cases) cannot be spread by
    # pytest-xdist, which keeps one of them: `make test` runs them one at a time.
    shared = {nodeid for nodeid, n in Counter(item.nodeid for item in items).items() if n > 1}
    for item in items:
        if item.nodeid in shared:
            item.add_marker(pytest.mark.serial)
        where = item.path.relative_to(TESTS).as_posix()
        if where.startswith(ENGINE_DEPENDENT):
            item.add_marker(pytest.mark.engine)
        if where.startswith("live/"):  # `make test` runs these one at a time too
            item.add_marker(pytest.mark.live)
        # Every async test (sockets run in them) waits for its sockets' writes before teardown.
        if item.get_closest_marker("asyncio") and "_socket_writes_done" not in item.fixturenames:
            item.fixturenames.append("_socket_writes_done")
        params = getattr(getattr(item, "callspec", None), "params", {})
        if (
            SERVER_FIXTURES.intersection(item.fixturenames)
            or params.get("either_store") == "dynamodb"
            or item.get_closest_marker("live")
        ):
            item.add_marker(pytest.mark.servers)


def pytest_collection_finish(session):
    if hasattr(session.config, "workerinput") and any(
        item.get_closest_marker("serial") for item in session.items
    ):
        raise pytest.UsageError(
            "Tests marked serial would be dropped by pytest-xdist: run them without -n "
            '(`make test` selects -m "not serial" for its workers).'
        )


@pytest.fixture(autouse=True)
def _budgets_start_full():
    """Request budgets (throttles, log-in attempts) are counted in the cache: each test starts
    with none spent. Only a process-local cache is cleared (never a shared Redis)."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    from chat.realtime.ratelimit import user_budgets

    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()
    user_budgets.cache_clear()


@pytest.fixture
def make_user(db):
    def make(username=None, **extra):
        username = username or f"user{next(_numbers)}"
        return get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)

    return make


@pytest.fixture
def make_chat(db):
    def make(creator, *others, name=""):
        chat_type = "group" if name or len(others) != 1 else "direct"
        chat, _ = services.chat_create(
            creator=creator, chat_type=chat_type, participants=list(others), name=name
        )
        return chat

    return make


@pytest.fixture
def alice_bob_direct(make_user, make_chat):
    """alice, bob and their direct chat."""
    alice, bob = make_user("alice"), make_user("bob")
    return alice, bob, make_chat(alice, bob)


@pytest.fixture
def alice_bob_room(make_user, make_chat):
    """alice, bob and a group of theirs, "room"."""
    alice, bob = make_user("alice"), make_user("bob")
    return alice, bob, make_chat(alice, bob, name="room")


@pytest.fixture
def alice_and_a_chat(make_user, make_chat):
    """A user and a direct chat of hers (with someone else)."""
    alice, other = make_user(), make_user()
    return alice, make_chat(alice, other)


@pytest.fixture
def api(make_user):
    """An API client logged in as a fresh user (``api.user``), with CSRF enforced."""
    client = APIClient(enforce_csrf_checks=True)
    client.user = make_user()
    client.force_login(client.user)
    return client


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """A ``moto_server`` for the whole session; AWS credentials for it in this process."""
    os.environ.update(AWS_TEST_ENV)
    server = MotoServer(dict(os.environ), tmp_path_factory.mktemp("moto") / "moto.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dynamodb_store(moto_server):
    """The DynamoDB store backend on the session's moto_server, tables created."""
    from chat.stores.dynamodb import MessageStore

    store = MessageStore(
        prefix="chat-test",
        client={
            "host": moto_server.url,
            "region": "us-east-1",
            "connect_timeout_seconds": 2,
            "read_timeout_seconds": 10,
            "max_retry_attempts": 1,
            "max_pool_connections": 20,
        },
    )
    store.create_tables()
    return store


_session_stores = {}


def session_dynamodb_store():
    """``CHAT_STORE_BACKEND`` for tests on DynamoDB: the session's store on moto_server."""
    return _session_stores["dynamodb"]


@pytest.fixture(params=["orm", "dynamodb"])
def either_store(request, settings):
    """The test runs once on each message store backend (the configured one is the ORM's)."""
    if request.param == "dynamodb":
        _session_stores["dynamodb"] = request.getfixturevalue("dynamodb_store")
        settings.CHAT_STORE_BACKEND = "tests.conftest.session_dynamodb_store"
    return request.param
