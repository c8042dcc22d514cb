"""The reference client: one socket, reconnecting, with exactly-once views of its chats."""

import asyncio
import contextlib
import json
import logging
import random
import uuid
from dataclasses import dataclass, field

import httpx
import websockets
from websockets.asyncio.client import connect

logger = logging.getLogger(__name__)


class ChatClientError(Exception):
    """The server refused something in a way a retry will not fix."""


class SendFailed(ChatClientError):
    """A message the server will never store (too long, not a member, ...)."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass
class _Pending:
    chat_id: str
    text: str
    client_message_id: str
    future: asyncio.Future
    sent_at: float = 0.0


@dataclass
class _ChatView:
    by_seq: dict = field(default_factory=dict)
    message_ids: set = field(default_factory=set)
    contiguous: int = 0
    joined: bool = False
    syncing: bool = False

    def add(self, message: dict) -> None:
        if message["messageId"] in self.message_ids:
            # Keep one copy; the broadcast or synced copy is fuller than one built from an ack.
            if len(message) > len(self.by_seq[message["seq"]]):
                self.by_seq[message["seq"]] = message
            return
        self.message_ids.add(message["messageId"])
        self.by_seq[message["seq"]] = message
        while self.contiguous + 1 in self.by_seq:
            self.contiguous += 1

    @property
    def has_gap(self) -> bool:
        return bool(self.by_seq) and max(self.by_seq) > self.contiguous


class SignedOut(ChatClientError):
    """The server ended the client's credential: a revoked token or an ended session (4401),
    a deactivated account (4403), or a refused handshake. Reconnecting would not help."""

    def __init__(self, code: int, detail: str = ""):
        super().__init__(f"signed out ({code}) {detail}".strip())
        self.code = code


class ChatClient:
    """A user's socket to ``base_url``, joined to some chats: signed in with an API token
    (``token=``, a program's way) or a browser session's cookies (``login()``)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        cookies: dict | None = None,
        user_id: str | None = None,
        username: str | None = None,
        ack_timeout: float = 5.0,
        backoff_max: float = 5.0,
    ):
        if (token is None) == (cookies is None):
            raise ValueError("give a token or a session's cookies")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.cookies = cookies or {}
        self.user_id = user_id
        self.username = username
        self.signed_out: SignedOut | None = None
        self.ack_timeout = ack_timeout
        self.backoff_max = backoff_max
        self.chats: dict[str, _ChatView] = {}
        self.pending: dict[str, _Pending] = {}
        self.reconnects = 0
        self.received_live = 0  # "message" frames received (as opposed to synced)
        self._ws = None
        self._task = None
        self._closing = False
        self._connected = asyncio.Event()
        self._changed = asyncio.Event()
        self._background: set[asyncio.Task] = set()

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- setting up ---

    @classmethod
    async def login(cls, base_url: str, username: str, password: str, **options) -> "ChatClient":
        """Log in through the login page, as a browser does."""
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            await http.get("/accounts/login/")
            response = await http.post(
                "/accounts/login/",
                data={
                    "username": username,
                    "password": password,
                    "csrfmiddlewaretoken": http.cookies["csrftoken"],
                },
            )
            if response.status_code != 302 or "sessionid" not in http.cookies:
                raise ChatClientError(f"login failed for {username}")
            me = (await http.get("/api/me")).json()
            cookies = {"sessionid": http.cookies["sessionid"]}
        return cls(base_url, cookies=cookies, user_id=me["userId"], username=username, **options)

    def _headers(self) -> dict:
        if self.token is not None:
            return {"Authorization": f"Bearer {self.token}"}
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    async def whoami(self) -> dict:
        """``GET /api/me`` with the client's credential (``ChatClientError`` if refused)."""
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as http:
            response = await http.get("/api/me", headers=self._headers())
        if response.status_code != 200:
            raise SignedOut(response.status_code, response.json().get("detail", ""))
        me = response.json()
        self.user_id, self.username = me["userId"], me["username"]
        return me

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http", "ws", 1) + "/ws/"

    async def start(self, chat_ids=()) -> None:
        """Connect (and keep reconnecting) and join ``chat_ids``; returns once connected.

        After ``stop()``, starting again reconnects and catches up from where the view was.
        """
        if self.user_id is None:
            await self.whoami()
        for chat_id in chat_ids:
            self.chats.setdefault(chat_id, _ChatView())
        self._closing = False
        self._connected.clear()
        self._task = asyncio.create_task(self._run())
        connected = asyncio.ensure_future(self._connected.wait())
        await asyncio.wait({connected, self._task}, timeout=30, return_when="FIRST_COMPLETED")
        if self.signed_out is not None:
            connected.cancel()
            raise self.signed_out
        if not connected.done():
            connected.cancel()
            raise TimeoutError(f"could not connect to {self.ws_url}")

    async def stop(self) -> None:
        """Disconnect and stay disconnected, keeping the view and the pending messages."""
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def join(self, chat_id: str) -> None:
        """Follow another chat (joined now and after every reconnect)."""
        self.chats.setdefault(chat_id, _ChatView())
        await self._send({"action": "joinChat", "chatId": chat_id})

    async def close(self) -> None:
        """Stop for good; pending messages stay unsent."""
        await self.stop()
        for task in list(self._background):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def drop_connection(self) -> None:
        """Close the socket as a network failure would; the client reconnects by itself."""
        if self._ws is not None:
            await self._ws.close()

    # --- using ---

    def send_nowait(self, chat_id: str, text: str, *, client_message_id: str | None = None):
        """Queue a message; the returned future resolves with its ack (or ``SendFailed``)."""
        client_message_id = client_message_id or uuid.uuid4().hex
        if client_message_id in self.pending:
            return self.pending[client_message_id].future
        future = asyncio.get_running_loop().create_future()
        entry = _Pending(chat_id, text, client_message_id, future)
        self.pending[client_message_id] = entry
        self._spawn(self._transmit(entry))
        return future

    async def send(self, chat_id: str, text: str, *, client_message_id: str | None = None):
        """Send a message and wait for its ack, however many reconnects that takes."""
        return await self.send_nowait(chat_id, text, client_message_id=client_message_id)

    def view(self, chat_id: str) -> list[dict]:
        """The chat as this client has it: messages in ``seq`` order, each once."""
        chat = self.chats.get(chat_id)
        return [chat.by_seq[seq] for seq in sorted(chat.by_seq)] if chat else []

    async def wait_until(self, predicate, timeout: float) -> None:
        """Wait until ``predicate()`` holds, re-checking after every frame (``SignedOut`` if
        the server ends the client's credential first)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                if self.signed_out is not None:
                    raise self.signed_out
                self._changed.clear()
                await self._changed.wait()

    async def settled(self, chat_id: str, last_seq: int, timeout: float = 30) -> list[dict]:
        """Wait until the view holds every message up to ``last_seq``; return it."""
        chat = self.chats[chat_id]
        await self.wait_until(lambda: chat.contiguous >= last_seq and not self.pending, timeout)
        return self.view(chat_id)

    # --- the connection ---

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                # A browser's session sends the page's Origin; a token needs none.
                origin = self.base_url if self.token is None else None
                async with connect(
                    self.ws_url, origin=origin, additional_headers=self._headers(), open_timeout=5
                ) as ws:
                    self._ws = ws
                    attempt = 0
                    for chat_id, chat in self.chats.items():
                        chat.joined = chat.syncing = False
                        await ws.send(json.dumps({"action": "joinChat", "chatId": chat_id}))
                    self._connected.set()
                    resender = asyncio.create_task(self._resend_unacked())
                    try:
                        async for text in ws:
                            await self._on_frame(json.loads(text))
                    finally:
                        resender.cancel()
            except websockets.exceptions.ConnectionClosed as error:
                if error.rcvd is not None and error.rcvd.code in {4401, 4403}:
                    self.signed_out = SignedOut(error.rcvd.code, error.rcvd.reason)
                logger.info("connection to %s closed: %s", self.ws_url, error)
            except websockets.exceptions.InvalidStatus as error:
                if error.response.status_code in {401, 403}:
                    self.signed_out = SignedOut(error.response.status_code, "handshake refused")
                logger.info("connection to %s refused: %s", self.ws_url, error)
            except (OSError, websockets.exceptions.WebSocketException, TimeoutError) as error:
                logger.info("connection to %s lost: %s", self.ws_url, error)
            finally:
                self._ws = None
            if self._closing:
                return
            if self.signed_out is not None:
                logger.warning("%s: not reconnecting", self.signed_out)
                self._fail_pending(self.signed_out)
                return
            self.reconnects += 1
            attempt += 1
            delay = min(self.backoff_max, 0.1 * 2**attempt) * random.uniform(0.5, 1.0)
            await asyncio.sleep(delay)

    def _fail_pending(self, error: Exception) -> None:
        for entry in list(self.pending.values()):
            if not entry.future.done():
                entry.future.set_exception(error)
        self.pending.clear()
        self._changed.set()

    async def _send(self, frame: dict) -> bool:
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(json.dumps(frame))
        except websockets.exceptions.ConnectionClosed:
            return False
        return True

    async def _transmit(self, entry: _Pending) -> None:
        chat = self.chats.setdefault(entry.chat_id, _ChatView())
        if not chat.joined:
            return  # sent once the chat is joined (after every reconnect)
        entry.sent_at = asyncio.get_running_loop().time()
        await self._send(
            {
                "action": "sendMessage",
                "chatId": entry.chat_id,
                "message": entry.text,
                "clientMessageId": entry.client_message_id,
            }
        )

    async def _resend_unacked(self) -> None:
        while True:
            await asyncio.sleep(1)
            now = asyncio.get_running_loop().time()
            for entry in list(self.pending.values()):
                if entry.sent_at and now - entry.sent_at > self.ack_timeout:
                    await self._transmit(entry)

    async def _sync(self, chat_id: str) -> None:
        chat = self.chats[chat_id]
        if chat.joined and not chat.syncing:
            chat.syncing = await self._send(
                {"action": "sync", "chatId": chat_id, "afterSeq": chat.contiguous}
            )

    async def _retry_later(self, coroutine_factory, delay: float) -> None:
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        await coroutine_factory()

    async def _on_frame(self, frame: dict) -> None:
        kind = frame.get("type")
        chat = self.chats.get(frame.get("chatId", ""))
        if kind == "joined" and chat is not None:
            chat.joined = True
            if frame["lastSeq"] > chat.contiguous:
                await self._sync(frame["chatId"])
            for entry in list(self.pending.values()):
                if entry.chat_id == frame["chatId"]:
                    await self._transmit(entry)
        elif kind == "history" and chat is not None:
            chat.syncing = False
            for message in frame["messages"]:
                chat.add(message)
            if frame["hasMore"] or chat.has_gap:
                await self._sync(frame["chatId"])
        elif kind == "message" and chat is not None:
            self.received_live += 1
            chat.add(frame["message"])
            if chat.has_gap:
                await self._sync(frame["chatId"])
        elif kind == "ack":
            entry = self.pending.pop(frame["clientMessageId"], None)
            if chat is not None and entry is not None:
                chat.add(
                    {
                        "chatId": frame["chatId"],
                        "seq": frame["seq"],
                        "messageId": frame["messageId"],
                        "clientMessageId": frame["clientMessageId"],
                        "userId": self.user_id,
                        "username": self.username,
                        "message": entry.text,
                        "timestamp": frame["timestamp"],
                    }
                )
            if chat is not None and (chat.has_gap or frame["seq"] > chat.contiguous):
                await self._sync(frame["chatId"])
            if entry is not None and not entry.future.done():
                entry.future.set_result(frame)
        elif kind == "error":
            await self._on_error(frame)
        self._changed.set()

    async def _on_error(self, frame: dict) -> None:
        action, chat_id = frame.get("action"), frame.get("chatId")
        entry = self.pending.get(frame.get("clientMessageId") or "")
        if entry is not None:
            if frame.get("retryable"):
                self._spawn(self._retry_later(lambda: self._transmit(entry), 1.0))
            else:
                del self.pending[entry.client_message_id]
                if not entry.future.done():
                    entry.future.set_exception(SendFailed(frame["code"], frame["detail"]))
        elif action == "joinChat" and chat_id in self.chats and frame.get("retryable"):
            self._spawn(
                self._retry_later(
                    lambda: self._send({"action": "joinChat", "chatId": chat_id}), 1.0
                )
            )
        elif action == "sync" and chat_id in self.chats:
            self.chats[chat_id].syncing = False
            if frame.get("retryable"):
                self._spawn(self._retry_later(lambda: self._sync(chat_id), 1.0))
        else:
            logger.warning("server error: %s", frame)
