"""Presence: who is online (a live socket in the connection registry) and when others were last
seen, for people one shares a chat with."""

import pytest
from channels.db import database_sync_to_async
from rest_framework.test import APIClient

from chat.realtime.registry import get_registry
from tests.sockets import logged_in, socket_of

pytestmark = pytest.mark.django_db(transaction=True)


def presence(viewer, *users):
    client = APIClient()
    client.force_login(viewer)
    ids = ",".join(str(u.pk) for u in users)
    response = client.get("/api/presence", {"userIds": ids})
    assert response.status_code == 200, response.content
    return {u["userId"]: (u["online"], u["lastSeen"] is not None) for u in response.json()["users"]}


async def test_online_while_a_socket_is_open_then_last_seen(make_user, make_chat):
    alice, bob, carol = [await database_sync_to_async(make_user)() for _ in range(3)]
    await database_sync_to_async(make_chat)(alice, bob)
    first, second = [await socket_of(await logged_in(bob)) for _ in range(2)]
    await get_registry().flush()
    # Carol shares no chat with Alice: not shown to her.
    seen = await database_sync_to_async(presence)(alice, bob, carol)
    assert seen == {str(bob.pk): (True, False)}
    await first.disconnect()
    await get_registry().flush()
    assert await database_sync_to_async(presence)(alice, bob) == {str(bob.pk): (True, True)}
    await second.disconnect()  # the last tab closed
    await get_registry().flush()
    assert await database_sync_to_async(presence)(alice, bob) == {str(bob.pk): (False, True)}


def test_presence_asks_are_bounded_and_well_formed(make_user):
    client = APIClient()
    client.force_login(make_user())
    for ids in ("", "abc", "1,,2", ",".join(["1"] * 201), "9" * 19):
        assert client.get("/api/presence", {"userIds": ids}).status_code == 400, ids
    assert client.get("/api/presence", {"userIds": "1,2"}).json() == {"users": []}
