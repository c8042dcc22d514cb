"""A user's socket limits hold across processes: two servers (daphne and uvicorn) sharing Redis
count one user's sockets and frames together."""

import asyncio
import json
import time
import uuid

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from chat.realtime.ratelimit import SYNC_DELAY, WINDOW
from tests.live.cluster import Cluster
from tests.live.users import LiveUser
from tests.servers import Daphne, Uvicorn

pytestmark = [pytest.mark.live, pytest.mark.cluster]

BURST, PER_SECOND, SOCKETS = 20, 1, 3


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with Cluster(
        tmp_path_factory.mktemp("limits"), servers=(Daphne, Uvicorn), store="orm",
        CHAT_RATE_BURST=str(BURST), CHAT_RATE_PER_SECOND=str(PER_SECOND),
        CHAT_SOCKETS_PER_USER=str(SOCKETS),
    ).running() as running:  # fmt: skip
        yield running


def new_user(process) -> LiveUser:
    return LiveUser(process.url, f"l{uuid.uuid4().hex[:10]}").sign_up().log_in()


async def open_socket(process, user):
    headers = user.socket_headers()
    return await connect(process.ws_url, origin=process.url, additional_headers=headers)


async def ping(ws) -> dict:
    await ws.send(json.dumps({"action": "ping"}))
    return json.loads(await asyncio.wait_for(ws.recv(), 10))


async def closed_with(ws, timeout: float) -> int | None:
    """The close code if the server closes the socket within ``timeout``, else None."""
    try:
        async with asyncio.timeout(timeout):
            async for _ in ws:
                pass
    except ConnectionClosed:
        pass
    except TimeoutError:
        return None
    return ws.close_code


async def test_the_socket_cap_counts_the_users_sockets_on_every_process(cluster):
    p1, p2 = cluster.processes
    alice = new_user(p1)
    first = [await open_socket(p1, alice), await open_socket(p1, alice)]
    await asyncio.sleep(SYNC_DELAY * 4)  # counted in Redis
    second = [await open_socket(p2, alice), await open_socket(p2, alice)]
    # Each process has at most 2 of her sockets (its own cap is 3); together, the fourth is one
    # too many and is closed, saying why; the others stay open and usable.
    codes = await asyncio.gather(*(closed_with(ws, 3) for ws in first + second))
    assert codes == [None, None, None, 4429]
    for ws in first + second[:1]:
        assert await ping(ws) == {"type": "pong"}
    # Closing one on process 1 makes room on process 2.
    await first[0].close()
    await asyncio.sleep(SYNC_DELAY * 4)
    again = await open_socket(p2, alice)
    assert await closed_with(again, 2) is None
    assert await ping(again) == {"type": "pong"}
    for ws in (first[1], second[0], again):
        await ws.close()


async def test_the_frame_budget_is_spent_by_the_users_frames_on_every_process(cluster):
    p1, p2 = cluster.processes
    bob = new_user(p2)
    on_p1, on_p2 = await open_socket(p1, bob), await open_socket(p2, bob)
    while time.time() % WINDOW > WINDOW / 2:  # start early in a window of the shared budget
        await asyncio.sleep(0.1)
    budget = BURST + PER_SECOND * WINDOW  # a window's frames across processes: 30
    assert [(await ping(on_p1))["type"] for _ in range(BURST)] == ["pong"] * BURST
    await asyncio.sleep(SYNC_DELAY * 4)
    # Process 2 has all its own burst left, but the user has spent 20 of 30 on process 1.
    replies = [(await ping(on_p2))["type"] for _ in range(budget - BURST + 1)]
    await asyncio.sleep(SYNC_DELAY * 4)
    refused = [await ping(on_p2) for _ in range(3)]
    assert replies == ["pong"] * (budget - BURST + 1)  # within the shared budget, and one over
    assert [r.get("code") for r in refused] == ["rate_limited"] * 3, refused
    assert all(r["retryable"] for r in refused)
    # The sockets stay open; another user is not affected.
    carol = new_user(p2)
    other = await open_socket(p2, carol)
    assert await ping(other) == {"type": "pong"}
    for ws in (on_p1, on_p2, other):
        await ws.close()
