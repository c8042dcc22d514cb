"""Pictures that are small files and huge images, sent at once to the production server
(uvicorn, PostgreSQL, Redis): every send is answered, previews are made one at a time after the
sends, and the server's memory grows by a bounded amount (one picture decoded at a time)."""

import asyncio
import functools
import io
import struct
import time
import uuid
import zlib
from pathlib import Path

import pytest
from PIL import Image

from tests.live.cluster import Cluster
from tests.live.users import LiveUser
from tests.servers import Uvicorn

pytestmark = [pytest.mark.live, pytest.mark.cluster]

MESSAGES, PER_MESSAGE = 4, 10


@functools.cache
def _near_cap_png(mode: str) -> bytes:
    # 6320 x 6320 = 39.9 million pixels, under the 40 million cap; a few hundred KB as a file.
    out = io.BytesIO()
    Image.new(mode, (6320, 6320), (90, 20, 30, 255)[: len(mode)]).save(out, "PNG")
    return out.getvalue()


def near_cap_png(n: int) -> bytes:
    """The n-th picture: RGB or RGBA, each file its own (a text chunk after the header names
    it), encoded twice in all rather than forty times."""
    png = _near_cap_png(("RGB", "RGBA")[n % 2])
    header_end = 8 + 25  # the signature, then IHDR (length, type, 13 bytes, CRC)
    text = b"Comment\0" + f"picture {n}".encode()
    chunk = struct.pack(">I", len(text)) + b"tEXt" + text
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + text))
    return png[:header_end] + chunk + png[header_end:]


def kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(field)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with Cluster(tmp_path_factory.mktemp("bombs"), servers=(Uvicorn,), store="orm").running() as c:
        yield c


def send_pictures(user: LiveUser, chat_id: str, pictures: list[bytes]) -> int:
    ids = []
    for n, data in enumerate(pictures):
        ticket = user.api("POST", "/api/upload-url", json={
            "chatId": chat_id, "filename": f"big{n}.png", "contentType": "image/png",
            "size": len(data)})  # fmt: skip
        assert ticket.status_code == 201, ticket.text
        ticket = ticket.json()
        posted = user.http.post(ticket["url"], data=ticket["fields"], files={"file": ("p", data)})
        assert posted.status_code == 204, posted.text
        ids.append(ticket["attachmentId"])
    sent = user.api(
        "POST", f"/api/chats/{chat_id}/messages",
        json={"message": "", "attachments": ids, "clientMessageId": uuid.uuid4().hex},
    )  # fmt: skip
    return sent.status_code


async def test_forty_near_cap_pictures_at_once_keep_memory_bounded(cluster):
    (server,) = cluster.processes
    pid = server.process.pid
    alice, bob = await asyncio.gather(*(
        asyncio.to_thread(lambda n=n: LiveUser(server.url, f"{n}{uuid.uuid4().hex[:6]}")
                          .sign_up().log_in()) for n in ("alice", "bob")))  # fmt: skip
    chat_id = await asyncio.to_thread(alice.direct_chat, bob)
    pictures = [near_cap_png(n) for n in range(MESSAGES * PER_MESSAGE)]
    senders = [
        await asyncio.to_thread(lambda: LiveUser(server.url, alice.username).log_in())
        for _ in range(MESSAGES)
    ]
    before = kib(pid, "VmRSS")
    sends = asyncio.gather(*(
        asyncio.to_thread(send_pictures, senders[m], chat_id,
                          pictures[m * PER_MESSAGE:(m + 1) * PER_MESSAGE])
        for m in range(MESSAGES)))  # fmt: skip
    served = []
    while not sends.done():
        began = time.monotonic()
        status = await asyncio.to_thread(lambda: bob.api("GET", "/api/chats").status_code)
        served.append((status, time.monotonic() - began))
        await asyncio.sleep(0.2)
    assert await sends == [201] * MESSAGES
    # Every preview is made, after the sends were answered.
    history = await asyncio.to_thread(bob.history, chat_id)
    urls = [a["thumbnailUrl"] for m in history for a in m["attachments"]]
    assert len(urls) == MESSAGES * PER_MESSAGE
    for url in urls:
        for _ in range(120):
            preview = await asyncio.to_thread(bob.http.get, url)
            if preview.status_code == 200:
                break
            assert preview.status_code == 503 and preview.headers["Retry-After"] == "2"
        assert preview.headers["Content-Type"] == "image/jpeg"
        assert max(Image.open(io.BytesIO(preview.content)).size) == 480
    grown = (kib(pid, "VmHWM") - before) / 1024
    slowest = max(t for _, t in served)
    print(f"server RSS {before / 1024:.0f} MiB, peak growth {grown:.0f} MiB; another member's "
          f"{len(served)} requests meanwhile, slowest {slowest:.2f} s")  # fmt: skip
    assert all(status == 200 for status, _ in served)
    assert grown < 400
