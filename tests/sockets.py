"""Sockets for tests, through the full ASGI application (origin check, session, consumer):
opened as a logged-in user, joined to a chat, and frames sent and awaited."""

import json

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from chatsite.asgi import application

HEADERS = [(b"host", b"localhost"), (b"origin", b"http://localhost")]


async def logged_in(user) -> Client:
    client = Client()
    await database_sync_to_async(client.force_login)(user)
    return client


async def socket_of(client: Client):
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())
    socket = WebsocketCommunicator(application, "/ws/", headers=[*HEADERS, cookie])
    connected, _ = await socket.connect()
    return socket if connected else None


async def next_of(socket, kind: str) -> dict:
    """The socket's next frame of type ``kind`` (others are skipped)."""
    while True:
        frame = json.loads(await socket.receive_from(timeout=2))
        if frame["type"] == kind:
            return frame


async def closed_with(socket) -> int:
    output = await socket.receive_output(timeout=2)
    assert output["type"] == "websocket.close", output
    return output["code"]


async def joined_socket(user, chat_id):
    socket = await socket_of(await logged_in(user))
    reply = await send(socket, {"action": "joinChat", "chatId": chat_id})
    assert reply["type"] == "joined", reply
    return socket, reply


async def open_socket(user=None, *, origin=b"http://localhost", host=b"localhost", scheme="ws"):
    headers = [(b"host", host)] + ([(b"origin", origin)] if origin else [])
    if user is not None:
        client = Client()
        await database_sync_to_async(client.force_login)(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    socket = WebsocketCommunicator(application, "/ws/", headers=headers)
    socket.scope["scheme"] = scheme
    connected, _ = await socket.connect()
    return socket, connected


async def send(socket, frame):
    await socket.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))
    return json.loads(await socket.receive_from(timeout=5))
