"""The chat socket (``/ws/``): one consumer per connection, one method per action."""

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import replace

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from chat import errors, selectors, services
from chat.ops import logs, metrics
from chat.payloads import ack_payload, message_page_payload, message_reactions_payload
from chat.realtime import events
from chat.realtime.db import database_sync_to_async
from chat.realtime.fanout import get_fanout
from chat.realtime.notices import get_notices, session_tag
from chat.realtime.outbox import Outbox
from chat.realtime.protocol import ProtocolError, parse_frame
from chat.realtime.ratelimit import user_budgets
from chat.realtime.registry import get_registry
from chat.realtime.socket_auth import socket_standing
from chat.stores.base import Connection

logger = logging.getLogger(__name__)


def _handler_name(action: str) -> str:
    # "sendMessage" -> "action_send_message"
    return "action_" + "".join(f"_{c.lower()}" if c.isupper() else c for c in action)


class ChatConsumer(AsyncWebsocketConsumer):
    """Speaks the protocol of ``chat.realtime.protocol`` for one logged-in user.

    Each action calls a service and answers the socket; what the change sends to other sockets
    the service sends (``chat.realtime.events``). Broadcast frames reach the socket through the
    fan-out (``chat.realtime.fanout``), not the channel layer.
    """

    async def __call__(self, scope, receive, send):
        # Broadcasts come through chat.realtime.fanout, not a channel layer (CHANNEL_LAYERS is
        # empty), so the socket's messages are read straight from the server: Channels' loop
        # makes a task and an asyncio.wait for every frame received, and keeps a task waiting
        # for each idle socket.
        self.channel_layer = None
        self.pending_work: set[asyncio.Task] = set()  # notices being acted on
        self.scope = scope
        self.base_send = send
        with contextlib.suppress(StopConsumer):
            while True:
                await self.dispatch(await receive())

    async def dispatch(self, message):
        # Channels closes stale database connections before every handler: a hop to a thread
        # and back for each frame (a large share of the event loop's time in a profile under
        # load).
        # Here every database call looks after its own connection (chat.realtime.db), so it is
        # skipped.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        self.user_id = str(user.pk)
        self.connection_id = uuid.uuid4().hex
        # The user's frame budget and socket count, shared by all their sockets.
        self.budget = user_budgets().open(self.user_id, self.connection_id, self._too_many)
        if self.budget is None:
            logger.warning("Refusing a socket of user %s: too many open", self.user_id)
            await self.accept()
            await self.close(code=4429)
            return
        self.username = user.get_username()
        self.joined: set[str] = set()
        # Chats whose membership was checked on this socket (once, at first use; notices of
        # changes drop or update it), and whether the user may send to each.
        self.member_of: dict[str, bool] = {}
        self.registry_refreshed_at = time.time()
        self.outbox = Outbox(self._write_frame, self._stopped_reading)
        self.closing = None
        self.gone = False  # disconnected
        self.session_key = self.scope.get("session_key")
        # A bearer socket's token ("token:<id>", "provider:<sub>"), named in notices as a
        # session is: revoking the token ends the socket as logging out ends a page's.
        self.credential = self.scope.get("credential")
        self.session_tag = session_tag(self.credential or self.session_key)
        self.registration = Connection(
            connection_id=self.connection_id,
            user_id=self.user_id,
            connected_at=int(time.time() * 1000),
            ttl=int(time.time()) + settings.CHAT_CONNECTION_TTL,
        )
        get_registry().put(self.registration)
        await get_notices().add(self)  # a change to the user, session or chats reaches it
        await self.accept()
        expires_at = self.scope.get("credential_expires_at")
        if expires_at is not None:  # a provider's access token: the socket ends with it
            self.expiry = asyncio.get_running_loop().call_later(
                max(0.0, expires_at - time.time()), self._close_soon, 4401
            )
        # This socket's log lines carry its id and its user's (the socket's task's context).
        logs.socket_id.set(self.connection_id)
        logs.user_id.set(self.user_id)
        metrics.socket_opened()
        self.counted = True

    async def disconnect(self, code):
        if getattr(self, "budget", None) is None:
            return  # never accepted, or refused
        self.budget.close()
        if getattr(self, "expiry", None) is not None:
            self.expiry.cancel()
        if getattr(self, "counted", False):
            metrics.socket_closed()
        self.gone = True
        get_notices().discard(self)
        fanout = get_fanout()
        for chat_id in self.joined:
            await fanout.leave(chat_id, self)
        await self.outbox.close()
        get_registry().remove(self.connection_id, self.user_id)

    def deliver(self, text: str) -> None:
        """Queue a broadcast frame (called by the fan-out; never blocks)."""
        self.outbox.put(text)

    async def _write_frame(self, text: str) -> None:
        # Straight to the server: AsyncWebsocketConsumer.send adds two calls a frame, no more.
        await self.base_send({"type": "websocket.send", "text": text})

    def notice(self, notice: dict) -> None:
        """A change made elsewhere that may concern this socket (``chat.realtime.notices``)."""
        kind, chat_id = notice.get("type"), notice.get("chatId")
        if kind == "sessionEnded" and notice.get("session") == self.session_tag:
            self._later(self._check_session(ended=True))
        elif kind == "userChanged":
            # A rename takes effect at once; the session check confirms it (notices from two
            # processes may come in either order).
            self.username = notice.get("username") or self.username
            self._later(self._check_session())
        elif kind == "membershipAdded":
            frame = {
                "type": "added", "chatId": chat_id, "chatName": notice.get("chatName", ""),
                "chatType": notice.get("chatType", "group"),
            }  # fmt: skip
            self._later(self._send(frame))
        elif kind == "membershipRemoved":
            self._later(self._lose_chat(chat_id, {"type": "removed", "chatId": chat_id}))
        elif kind == "chatDeleted":  # (handed to the members' sockets only)
            self._later(self._lose_chat(chat_id, {"type": "chatDeleted", "chatId": chat_id}))
        elif kind == "chatChanged" and (chat_id in self.joined or chat_id in self.member_of):
            writable = not (notice.get("locked") or notice.get("archived"))
            if chat_id in self.member_of:
                self.member_of[chat_id] = writable
            if chat_id in self.joined:
                frame = {
                    "type": "chatUpdated", "chatId": chat_id, "readOnly": not writable,
                    "chatName": notice.get("chatName", ""),
                }  # fmt: skip
                self._later(self._send(frame))

    def _later(self, work) -> None:
        # The event loop keeps only a weak reference to a task: the socket keeps the strong
        # one until the work is done.
        task = asyncio.ensure_future(work)
        self.pending_work.add(task)
        task.add_done_callback(self._work_done)

    def _work_done(self, task: asyncio.Task) -> None:
        self.pending_work.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("Acting on a notice failed on %s", self.connection_id,
                         exc_info=task.exception())  # fmt: skip

    def _close_soon(self, code: int) -> None:
        if not self.gone and self.closing is None:
            logger.info("Closing %s of user %s (%d)", self.connection_id, self.user_id, code)
            self.closing = asyncio.ensure_future(self.close(code=code))

    async def _check_session(self, *, ended: bool = False) -> None:
        """Close the socket if its session no longer logs its user in (or has ``ended``: a
        logout sends its notice just before the session is deleted); the code says why. While
        it does, take up the user's name now."""
        standing = await database_sync_to_async(socket_standing)(
            session_key=self.session_key, credential=self.credential, user_id=self.user_id
        )
        code = standing.close_code
        if code is None and ended:
            code = 4401
        if code is not None:
            self._close_soon(code)
        else:
            self.username = standing.username  # renamed, say, and its notice lost

    async def _lose_chat(self, chat_id: str, frame: dict) -> None:
        """The user is no longer in the chat: stop its frames and tell the client."""
        self.member_of.pop(chat_id, None)  # every later frame for it checks again (and fails)
        if chat_id in self.joined:
            self.joined.discard(chat_id)
            await get_fanout().leave(chat_id, self)
        if not self.gone:
            await self._send(frame)

    def _too_many(self) -> None:
        # The user has too many sockets open across processes (found after this one opened).
        self._close_soon(4429)

    def _stopped_reading(self) -> None:
        logger.warning("Closing %s: it stopped reading its frames", self.connection_id)
        self.closing = asyncio.ensure_future(self.close(code=4008))

    async def receive(self, text_data=None, bytes_data=None):
        if not hasattr(self, "joined"):
            return  # a refused socket, closing
        frame = None
        chat = logs.chat_id.set("")
        try:
            frame = parse_frame(text_data)
            logs.chat_id.set(frame.get("chatId") if isinstance(frame.get("chatId"), str) else "")
            if not self.budget.take():
                raise ProtocolError(
                    "rate_limited", "Too many frames; slow down.", frame=frame, retryable=True
                )
            await getattr(self, _handler_name(frame["action"]))(frame)
        except ProtocolError as exc:
            await self._send(exc.as_frame())
        except errors.ChatError as exc:
            failure = ProtocolError(exc.code, exc.detail, frame=frame, retryable=exc.retryable)
            await self._send(failure.as_frame())
        except errors.DATABASE_ERRORS as exc:
            logger.warning("Frame from %s: database unavailable (%s)", self.connection_id,
                           type(exc.__cause__ or exc).__name__)  # fmt: skip
            outage = errors.DatabaseUnavailable()
            failure = ProtocolError(outage.code, outage.detail, frame=frame, retryable=True)
            await self._send(failure.as_frame())
        except Exception:
            # Whatever else goes wrong with one frame, the socket stays open and usable.
            logger.exception("Frame from %s failed", self.connection_id)
            failure = ProtocolError(
                "internal_error", "The server could not handle this frame.", frame=frame,
                retryable=True,
            )  # fmt: skip
            await self._send(failure.as_frame())
        finally:
            logs.chat_id.reset(chat)

    async def _send(self, payload: dict):
        await self.send(text_data=events.frame(payload))

    def _register(self, **changes) -> None:
        # The socket's row in the connection registry, written soon (chat.realtime.registry
        # batches).
        self.registration = replace(
            self.registration, ttl=int(time.time()) + settings.CHAT_CONNECTION_TTL, **changes
        )
        get_registry().put(self.registration)

    async def _require_member(self, frame: dict) -> str:
        chat_id = frame["chatId"]
        if chat_id not in self.member_of:
            writable = await database_sync_to_async(selectors.member_access)(
                chat_id=chat_id, user_id=self.user_id
            )
            if writable is None:
                raise ProtocolError("not_member", "You are not a member of this chat.", frame=frame)
            self.member_of[chat_id] = writable
        return chat_id

    async def _require_writable(self, frame: dict) -> str:
        # A member, of a chat that is not locked or archived (a sender's edits included).
        chat_id = await self._require_member(frame)
        if not self.member_of.get(chat_id, True):
            raise errors.Locked()
        return chat_id

    async def action_join_chat(self, frame):
        most = settings.CHAT_SOCKET_MAX_CHATS
        if frame["chatId"] not in self.joined and len(self.joined) >= most:
            raise ProtocolError(
                "too_many_chats",
                f"A socket may join at most {most} chats; leave one or open another socket.",
                frame=frame,
            )
        chat_id = await self._require_member(frame)
        try:
            await get_fanout().join(chat_id, self)
        except Exception:
            logger.warning(
                "Could not subscribe %s to %s (fan-out down)", self.connection_id, chat_id
            )
            raise ProtocolError(
                "fanout_unavailable",
                "Live delivery is unavailable; join again shortly (sending still works).",
                frame=frame,
                retryable=True,
            ) from None
        self.joined.add(chat_id)
        metrics.JOINS.inc()
        # Read after the subscription is confirmed: a message stored later arrives live.
        last_seq = await database_sync_to_async(selectors.chat_last_seq)(chat_id=chat_id)
        get_fanout().order_from(chat_id, last_seq)
        joined = {"type": "joined", "chatId": chat_id, "lastSeq": last_seq}
        if not self.member_of.get(chat_id, True):
            joined["readOnly"] = True
        await self._send(joined)
        self._register(chat_id=chat_id)

    async def action_leave_chat(self, frame):
        chat_id = frame["chatId"]
        if chat_id in self.joined:
            await get_fanout().leave(chat_id, self)
            self.joined.discard(chat_id)
        await self._send({"type": "left", "chatId": chat_id})

    async def action_send_message(self, frame):
        chat_id = await self._require_writable(frame)
        result = await database_sync_to_async(services.message_send)(
            chat_id=chat_id,
            user_id=self.user_id,
            username=self.username,
            body=frame["message"],
            client_message_id=frame["clientMessageId"],
            attachment_ids=frame.get("attachments") or (),
            reply_to=frame.get("replyTo") or "",
        )
        await self._send(ack_payload(result.message, duplicate=not result.created))

    async def action_edit_message(self, frame):
        chat_id = await self._require_writable(frame)
        edited = await database_sync_to_async(services.message_edit)(
            chat_id=chat_id, message_id=frame["messageId"], user_id=self.user_id,
            body=frame["message"],
        )  # fmt: skip
        reply = {"type": "edited", "chatId": chat_id, "messageId": edited.message_id}
        await self._send({**reply, "seq": edited.seq, "editedAt": edited.edited_at})

    async def action_delete_message(self, frame):
        chat_id = await self._require_writable(frame)
        deleted = await database_sync_to_async(services.message_delete)(
            chat_id=chat_id, message_id=frame["messageId"], user_id=self.user_id
        )
        await self._send(
            {"type": "deleted", "chatId": chat_id, "messageId": deleted.message_id,
             "seq": deleted.seq}
        )  # fmt: skip

    async def action_react(self, frame):
        chat_id = await self._require_writable(frame)
        message, reactions = await database_sync_to_async(services.reaction_set)(
            chat_id=chat_id, user_id=self.user_id, message_id=frame["messageId"],
            emoji=frame["emoji"], on=frame["on"],
        )  # fmt: skip
        await self._send({"type": "reacted", **message_reactions_payload(message, reactions)})

    async def action_sync(self, frame):
        chat_id = await self._require_member(frame)
        page = await database_sync_to_async(selectors.message_catch_up)(
            chat_id=chat_id, after_seq=frame["afterSeq"]
        )
        await self._send({"type": "history", "chatId": chat_id, **message_page_payload(page)})
        if page.messages:
            await database_sync_to_async(services.message_mark_delivered)(
                chat_id=chat_id, user_id=self.user_id, seq=page.messages[-1].message.seq
            )

    async def action_typing(self, frame):
        chat_id = await self._require_member(frame)
        events.typing(chat_id=chat_id, user_id=self.user_id, username=self.username)

    async def action_mark_delivered(self, frame):
        # Pages send it at most once a second per chat, for the newest message received live.
        chat_id = await self._require_member(frame)
        await database_sync_to_async(services.message_mark_delivered)(
            chat_id=chat_id, user_id=self.user_id, seq=frame["seq"]
        )

    async def action_mark_read(self, frame):
        chat_id = await self._require_member(frame)
        await database_sync_to_async(services.message_mark_read)(
            chat_id=chat_id, user_id=self.user_id, seq=frame["seq"]
        )

    async def action_ping(self, frame):
        now = time.time()
        if now - self.registry_refreshed_at > settings.CHAT_CONNECTION_TTL / 3:
            self.registry_refreshed_at = now
            self._register()
            self.budget.still_open()
            # A change whose notice was lost (Redis unreachable) is found here at the latest.
            self._later(self._check_session())
        await self._send({"type": "pong"})
