"""Moderation reaches sockets on every process: two servers (daphne and uvicorn) sharing Redis,
PostgreSQL and DynamoDB; changes made in the admin of one of them or in a shell (a third
process)."""

import asyncio
import contextlib
import json
import time
import uuid

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.frames import send_message
from tests.live.cluster import Cluster
from tests.live.users import PASSWORD, LiveUser
from tests.servers import Daphne, Uvicorn

pytestmark = [pytest.mark.live, pytest.mark.cluster]

DEADLINE = 1.0  # seconds from the change to every socket concerned acting on it


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with Cluster(tmp_path_factory.mktemp("moderation"), servers=(Daphne, Uvicorn)).running() as c:
        c.shell(
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.create_superuser('moderator', password='{PASSWORD}')"
        )
        yield c


@pytest.fixture(scope="module")
def moderator(cluster):
    return LiveUser(cluster.processes[0].url, "moderator").log_in()


def new_user(process) -> LiveUser:
    return LiveUser(process.url, f"m{uuid.uuid4().hex[:10]}").sign_up().log_in()


def group(owner: LiveUser, *others: LiveUser) -> str:
    participants = [owner.find(o) for o in others]
    response = owner.api(
        "POST", "/api/chats",
        json={"chatType": "group", "chatName": "room", "participants": participants},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()["chatId"]


class Socket:
    """A socket of a user on a process, its frames read into a list as they come."""

    def __init__(self, ws, process):
        self.ws, self.process = ws, process
        self.frames: list[dict] = []
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, process, user, cookie=None):
        headers = {"Cookie": cookie} if cookie else user.socket_headers()
        ws = await connect(process.ws_url, origin=process.url, additional_headers=headers)
        return cls(ws, process)

    async def _read(self):
        with contextlib.suppress(ConnectionClosed):
            async for text in self.ws:
                self.frames.append(json.loads(text))

    async def request(self, frame: dict) -> dict:
        seen = len(self.frames)
        await self.ws.send(json.dumps(frame))
        await self.until(lambda: any(f["type"] != "message" for f in self.frames[seen:]), 10)
        return next(f for f in self.frames[seen:] if f["type"] != "message")

    async def until(self, condition, timeout: float) -> float:
        """Seconds it took ``condition()`` to hold; fails after ``timeout``."""
        start = time.monotonic()
        while not condition():
            assert time.monotonic() - start < timeout, f"not within {timeout} s: {self.frames}"
            await asyncio.sleep(0.01)
        return time.monotonic() - start

    async def got(self, frame: dict, timeout: float = DEADLINE) -> float:
        return await self.until(lambda: frame in self.frames, timeout)

    async def closed(self, timeout: float = DEADLINE) -> int:
        await self.until(lambda: self.reader.done(), timeout)
        return self.ws.close_code

    async def close(self):
        await self.ws.close()
        self.reader.cancel()


async def on_both(cluster, user, chat_id=None) -> list[Socket]:
    sockets = [await Socket.open(p, user) for p in cluster.processes]
    for socket in sockets:
        if chat_id:
            assert (await socket.request({"action": "joinChat", "chatId": chat_id}))["type"] == (
                "joined"
            )
    return sockets


async def refused(process, cookie) -> bool:
    try:
        ws = await connect(
            process.ws_url, origin=process.url, additional_headers={"Cookie": cookie}
        )
    except InvalidStatus:
        return True
    await ws.close()
    return False


async def test_a_member_removed_in_a_shell_leaves_the_chat_on_both_processes(cluster):
    p1, p2 = cluster.processes
    alice, bob = new_user(p1), new_user(p2)
    chat_id = group(alice, bob)
    (a,) = [await Socket.open(p1, alice)]
    await a.request({"action": "joinChat", "chatId": chat_id})
    bobs = await on_both(cluster, bob, chat_id)
    cluster.shell(
        "from chat.models import Membership; "
        f"Membership.objects.filter(chat_id='{chat_id}', user__username='{bob.username}').delete()"
    )
    took = [await s.got({"type": "removed", "chatId": chat_id}) for s in bobs]
    print(f"removed on both processes after {max(took):.3f} s")
    assert (await bobs[0].request(send_message(chat_id, "still here?", "b1")))["code"] == (
        "not_member"
    )
    synced = await bobs[1].request({"action": "sync", "chatId": chat_id, "afterSeq": 0})
    assert synced["code"] == "not_member"
    assert (await a.request(send_message(chat_id, "without bob", "a1")))["type"] == "ack"
    await a.until(lambda: any(f["type"] == "message" for f in a.frames), 5)
    await asyncio.sleep(0.3)
    assert not [f for s in bobs for f in s.frames if f["type"] == "message"]
    for socket in (a, *bobs):
        await socket.close()


async def test_bans_logouts_and_password_changes_close_sockets_on_both_processes(
    cluster, moderator
):
    p1, p2 = cluster.processes
    banned, leaving, changing, bystander = (new_user(p) for p in (p1, p2, p1, p2))
    # Leaving has a second session (another browser) that must stay.
    other_browser = LiveUser(p1.url, leaving.username).log_in()
    sockets = {
        "banned": await on_both(cluster, banned),
        "leaving": await on_both(cluster, leaving),
        "other browser": await on_both(cluster, other_browser),
        "changing": await on_both(cluster, changing),
        "bystander": await on_both(cluster, bystander),
    }
    cookies = {name: user.socket_headers()["Cookie"] for name, user in
               [("banned", banned), ("leaving", leaving), ("changing", changing)]}  # fmt: skip

    response = moderator.api(
        "POST", "/admin/auth/user/",
        data={"action": "ban", "_selected_action": [banned.user_id]},
    )  # fmt: skip
    assert response.status_code == 302, response.text
    assert [await s.closed() for s in sockets["banned"]] == [4403, 4403]

    assert leaving.api("POST", "/accounts/logout/").status_code == 302
    assert [await s.closed() for s in sockets["leaving"]] == [4401, 4401]

    cluster.shell(
        "from django.contrib.auth import get_user_model; "
        f"u = get_user_model().objects.get(username='{changing.username}'); "
        "u.set_password('another-password-42'); u.save()"
    )
    assert [await s.closed() for s in sockets["changing"]] == [4401, 4401]

    for name, cookie in cookies.items():
        for process in (p1, p2):
            assert await refused(process, cookie), f"{name}'s old cookie opened a socket"
    for socket in sockets["other browser"] + sockets["bystander"]:
        assert await socket.request({"action": "ping"}) == {"type": "pong"}
        await socket.close()


async def test_locking_a_message_delete_and_a_room_delete_in_the_admin(cluster, moderator):
    p1, p2 = cluster.processes
    alice, bob = new_user(p1), new_user(p2)
    chat_id = group(alice, bob)
    sockets = await on_both(cluster, alice, chat_id) + await on_both(cluster, bob, chat_id)
    ack = await sockets[0].request(send_message(chat_id, "rude words", "r1"))
    assert ack["type"] == "ack"

    def action(name):
        response = moderator.api(
            "POST", "/admin/chat/chatroom/", data={"action": name, "_selected_action": [chat_id]}
        )
        assert response.status_code == 302, response.text

    action("lock")
    for socket in sockets:
        await socket.got(
            {"type": "chatUpdated", "chatId": chat_id, "readOnly": True, "chatName": "room"}
        )
    locked = await sockets[3].request(send_message(chat_id, "while locked", "l1"))
    assert locked["code"] == "chat_locked"
    action("unlock")
    for socket in sockets:
        await socket.got(
            {"type": "chatUpdated", "chatId": chat_id, "readOnly": False, "chatName": "room"}
        )
    assert (await sockets[3].request(send_message(chat_id, "unlocked", "u1")))["type"] == "ack"

    page = moderator.api("POST", f"/admin/chat/chatroom/{chat_id}/messages/", data={"seq": "1"})
    assert page.status_code == 302, page.text
    deleted = {"type": "messageDeleted", "chatId": chat_id, "seq": 1, "messageId": ack["messageId"]}
    for socket in sockets:
        await socket.got(deleted)
    stored = cluster.stored(chat_id)
    assert [(m["seq"], m["message"]) for m in stored] == [(1, ""), (2, "unlocked")]
    assert bob.history(chat_id)[0]["deleted"] is True

    response = moderator.api(
        "POST", f"/admin/chat/chatroom/{chat_id}/delete/", data={"post": "yes"}
    )
    assert response.status_code == 302, response.text
    for socket in sockets:
        await socket.got({"type": "chatDeleted", "chatId": chat_id})
    assert (await sockets[1].request(send_message(chat_id, "gone?", "g1")))["code"] == "not_member"
    assert cluster.stored(chat_id) == []
    for socket in sockets:
        await socket.close()


async def test_a_rename_reaches_the_users_sockets_on_both_processes(cluster):
    """Renamed on the Settings page of one process, then in a shell (a third process): the
    user's sockets on both servers send under the new name at once."""
    p1, p2 = cluster.processes
    alice, bob = new_user(p1), new_user(p2)
    chat_id = alice.direct_chat(bob)
    alices = await on_both(cluster, alice, chat_id)
    (bobs,) = [await Socket.open(p2, bob)]
    assert (await bobs.request({"action": "joinChat", "chatId": chat_id}))["type"] == "joined"

    async def names_seen_by_bob(tag: str) -> set[str]:
        for n, socket in enumerate(alices):
            frame = send_message(chat_id, f"{tag} {n}", f"{tag}-{n}")
            assert (await socket.request(frame))["type"] == "ack"
        texts = {f"{tag} {n}" for n in range(len(alices))}

        def arrived():
            return [f["message"] for f in bobs.frames if f.get("type") == "message"
                    and f["message"]["message"] in texts]  # fmt: skip

        await bobs.until(lambda: len(arrived()) == len(texts), 5)
        return {message["username"] for message in arrived()}

    new_name = f"r{uuid.uuid4().hex[:10]}"
    alice.http.get("/settings/")
    renamed = alice.http.post(
        "/settings/",
        data={"action": "rename", "username": new_name,
              "csrfmiddlewaretoken": alice.http.cookies["csrftoken"]},
    )  # fmt: skip
    assert renamed.status_code == 302, renamed.text
    await asyncio.sleep(DEADLINE)  # the notice reaches both processes
    assert await names_seen_by_bob("after the page") == {new_name}

    shell_name = f"s{uuid.uuid4().hex[:10]}"
    cluster.shell(
        "from django.contrib.auth import get_user_model; "
        f"u = get_user_model().objects.get(username='{new_name}'); "
        f"u.username = '{shell_name}'; u.save()"
    )
    await asyncio.sleep(DEADLINE)
    assert await names_seen_by_bob("after the shell") == {shell_name}
    for socket in [*alices, bobs]:
        await socket.close()
