"""PostgreSQL cut under the production server: socket sends answer a retryable
``database_unavailable`` and REST a 503 with ``Retry-After``, never ``internal_error`` or a 500;
once the database is back, the same socket sends again."""

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from tests.forwarder import Forwarder
from tests.live.users import LiveUser
from tests.servers import Uvicorn, migrate, postgres_database, server_env

pytestmark = [pytest.mark.live, pytest.mark.cluster]


@pytest.fixture
def cut_database(tmp_path):
    """A uvicorn server whose PostgreSQL is behind a forwarder the test can cut."""
    forwarder = Forwarder(5432).start()
    with postgres_database() as url:
        env = server_env(url.replace(":5432/", f":{forwarder.port}/"))
        migrate(env)
        server = Uvicorn(env, tmp_path / "server.log").start()
        try:
            yield server, forwarder
        finally:
            server.stop()
            forwarder.stop()


async def frame_of(ws, kind: str) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if frame["type"] in {kind, "error"}:
            return frame


async def test_sends_during_a_database_cut_are_retryable_and_succeed_after(cut_database):
    server, forwarder = cut_database
    alice = await asyncio.to_thread(lambda: LiveUser(server.url, "alice").sign_up().log_in())
    bob = await asyncio.to_thread(lambda: LiveUser(server.url, "bob").sign_up().log_in())
    chat_id = await asyncio.to_thread(alice.direct_chat, bob)
    async with connect(
        server.ws_url, origin=server.url, additional_headers=alice.socket_headers()
    ) as ws:
        await ws.send(json.dumps({"action": "joinChat", "chatId": chat_id}))
        assert (await frame_of(ws, "joined"))["type"] == "joined"
        forwarder.set_mode("cut")
        send = {"action": "sendMessage", "chatId": chat_id, "message": "hi",
                "clientMessageId": "k1"}  # fmt: skip
        await ws.send(json.dumps(send))
        failed = await frame_of(ws, "ack")
        assert (failed["type"], failed["code"], failed["retryable"]) == (
            "error", "database_unavailable", True,
        )  # fmt: skip
        rest = await asyncio.to_thread(
            alice.api, "POST", f"/api/chats/{chat_id}/messages",
            json={"message": "over rest", "clientMessageId": "k2"},
        )  # fmt: skip
        assert rest.status_code == 503, rest.text
        assert rest.json()["code"] == "database_unavailable" and rest.json()["retryable"]
        assert rest.headers["Retry-After"] == "5"
        forwarder.set_mode("open")
        for _ in range(20):  # the client's retry, as the page's is
            await ws.send(json.dumps(send))
            answer = await frame_of(ws, "ack")
            if answer["type"] == "ack":
                break
            assert answer["code"] == "database_unavailable"
            await asyncio.sleep(1)
        assert answer["type"] == "ack" and answer["clientMessageId"] == "k1"
    history = await asyncio.to_thread(bob.history, chat_id)
    assert [m["message"] for m in history] == ["hi"]
    assert "internal_error" not in server.log() and "Internal Server Error" not in server.log()
