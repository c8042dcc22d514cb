"""Store backend on DynamoDB, through PynamoDB (``CHAT_STORE=dynamodb``).

Tables (``<prefix>`` is ``chat-<stage>``):

- ``<prefix>-messages``: ``chatId`` (partition) + ``seq`` (sort), one item per message; newest-
  first pages and catch-up after a ``seq`` are key-ordered queries.
- ``<prefix>-sequences``: ``chatId`` -> ``lastSeq``, the per-chat counter.
- ``<prefix>-send-keys``: ``sendKey`` = ``chatId|userId|clientMessageId`` -> the message it
  stored; expires by ``ttl`` after ``SEND_KEY_DAYS``.
- ``<prefix>-connections``: ``connectionId`` -> the socket, ``ttl`` for expiry, and the
  ``userId-index`` global index (``userId`` + ``connectedAt``).

Message search reads a table of the relational database (``chat.stores.textsearch``), which the
append, edit and delete here keep as the message is (written in batches, off the send path):
DynamoDB has no text search, and scanning history with a filter would read (and bill) every
message of every chat.

An append is one ``TransactWriteItems``: advance the counter from the value just read (a
condition), put the send key (must not exist) and put the message (must not exist). Either all
three happen or none, so ``seq`` stays dense whatever fails, and a repeated send key is a
retry. Another sender moving the counter first only makes the writer re-read and try again.

PynamoDB's defaults wait up to 30 s per call; here calls time out in under a second and are
retried once, so an unreachable store is reported in about three seconds.
"""

import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection as DynamoConnection
from pynamodb.exceptions import PynamoDBException, TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chat.payloads import iso_from_ms
from chat.stores import base, textsearch
from chat.stores.textsearch import search_index

SEND_KEY_DAYS = 30
# A writer that keeps losing the counter race to other senders gives up after this many tries.
APPEND_ATTEMPTS = 50
# Keep BatchGetItem within its 100-key limit.
BATCH_SIZE = 100


def _client_settings() -> dict:
    return {
        "host": settings.CHAT_DYNAMODB_ENDPOINT or None,
        "region": settings.CHAT_DYNAMODB_REGION,
        "connect_timeout_seconds": settings.CHAT_DYNAMODB_TIMEOUT,
        "read_timeout_seconds": settings.CHAT_DYNAMODB_TIMEOUT,
        "max_retry_attempts": settings.CHAT_DYNAMODB_RETRIES,
        "max_pool_connections": settings.CHAT_DYNAMODB_POOL,
    }


def build_models(prefix: str, client: dict) -> dict[str, type[Model]]:
    """PynamoDB models of the four tables named ``<prefix>-...``, talking per ``client``."""

    def meta(table: str):
        return type("Meta", (), {"table_name": f"{prefix}-{table}", **client})

    class MessageIdIndex(GlobalSecondaryIndex):
        class Meta:
            index_name = "messageId-index"
            projection = KeysOnlyProjection()

        message_id = UnicodeAttribute(hash_key=True, attr_name="messageId")

    class MessageItem(Model):
        Meta = meta("messages")
        chat_id = UnicodeAttribute(hash_key=True, attr_name="chatId")
        seq = NumberAttribute(range_key=True)
        message_id = UnicodeAttribute(attr_name="messageId")
        user_id = UnicodeAttribute(attr_name="userId")
        username = UnicodeAttribute()
        body = UnicodeAttribute(attr_name="message")
        client_message_id = UnicodeAttribute(attr_name="clientMessageId")
        timestamp = NumberAttribute()
        created_at = UnicodeAttribute(attr_name="createdAt")
        attachments = JSONAttribute(default=list)
        deleted = BooleanAttribute(default=False)
        edited_at = NumberAttribute(null=True, attr_name="editedAt")
        kind = UnicodeAttribute(default="text")
        reply_to = NumberAttribute(null=True, attr_name="replyTo")
        by_message_id = MessageIdIndex()

    class SequenceItem(Model):
        Meta = meta("sequences")
        chat_id = UnicodeAttribute(hash_key=True, attr_name="chatId")
        last_seq = NumberAttribute(attr_name="lastSeq")

    class SendKeyItem(Model):
        Meta = meta("send-keys")
        send_key = UnicodeAttribute(hash_key=True, attr_name="sendKey")
        chat_id = UnicodeAttribute(attr_name="chatId")
        seq = NumberAttribute()
        message_id = UnicodeAttribute(attr_name="messageId")
        ttl = TTLAttribute()

    class UserIndex(GlobalSecondaryIndex):
        class Meta:
            index_name = "userId-index"
            projection = AllProjection()

        user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
        connected_at = NumberAttribute(range_key=True, attr_name="connectedAt")

    class ConnectionItem(Model):
        Meta = meta("connections")
        connection_id = UnicodeAttribute(hash_key=True, attr_name="connectionId")
        user_id = UnicodeAttribute(attr_name="userId")
        chat_id = UnicodeAttribute(attr_name="chatId", default="")
        connected_at = NumberAttribute(attr_name="connectedAt")
        ttl = TTLAttribute()
        by_user = UserIndex()

    return {
        "messages": MessageItem,
        "sequences": SequenceItem,
        "send_keys": SendKeyItem,
        "connections": ConnectionItem,
    }


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _moment(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)


def _message(item) -> base.Message:
    return base.Message(
        chat_id=item.chat_id,
        seq=int(item.seq),
        message_id=item.message_id,
        user_id=item.user_id,
        username=item.username,
        body=item.body,
        client_message_id=item.client_message_id,
        timestamp=int(item.timestamp),
        attachments=tuple(item.attachments or ()),
        deleted=bool(item.deleted),
        edited_at=int(item.edited_at) if item.edited_at is not None else None,
        kind=item.kind or "text",
        reply_to=int(item.reply_to or 0),
    )


def _connection(item) -> base.Connection:
    return base.Connection(
        connection_id=item.connection_id,
        user_id=item.user_id,
        connected_at=int(item.connected_at),
        ttl=_epoch(item.ttl),
        chat_id=item.chat_id or "",
    )


def _failed_conditions(error: TransactWriteError) -> list[bool]:
    return [
        reason is not None and reason.code == "ConditionalCheckFailed"
        for reason in (error.cancellation_reasons or [])
    ]


class MessageStore(base.MessageStore):
    """History and connections in DynamoDB tables named by ``CHAT_STAGE``."""

    def __init__(self, *, prefix: str | None = None, client: dict | None = None):
        self.prefix = prefix or f"chat-{settings.CHAT_STAGE}"
        self.client = client or _client_settings()
        models = build_models(self.prefix, self.client)
        self.Message = models["messages"]
        self.Sequence = models["sequences"]
        self.SendKey = models["send_keys"]
        self.Connection = models["connections"]
        self.connection = DynamoConnection(
            region=self.client["region"],
            host=self.client["host"],
            connect_timeout_seconds=self.client["connect_timeout_seconds"],
            read_timeout_seconds=self.client["read_timeout_seconds"],
            max_retry_attempts=self.client["max_retry_attempts"],
            max_pool_connections=self.client["max_pool_connections"],
        )

    @property
    def models(self) -> list[type[Model]]:
        return [self.Message, self.Sequence, self.SendKey, self.Connection]

    def create_tables(self) -> list[str]:
        """Create missing tables (on-demand billing, TTL on); return the names created."""
        created = []
        for model in self.models:
            if not model.exists():
                model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
                created.append(model.Meta.table_name)
            model.update_ttl(ignore_update_ttl_errors=False)
        return created

    def _send_key(self, new: base.NewMessage) -> str:
        return f"{new.chat_id}|{new.user_id}|{new.client_message_id}"

    def _original(self, send_key: str, chat_id: str) -> base.AppendResult | None:
        try:
            key = self.SendKey.get(send_key, consistent_read=True)
        except self.SendKey.DoesNotExist:
            return None
        item = self.Message.get(chat_id, int(key.seq), consistent_read=True)
        return base.AppendResult(message=_message(item), created=False)

    def append(self, new):
        send_key = self._send_key(new)
        message_id = str(uuid.uuid4())
        try:
            for attempt in range(APPEND_ATTEMPTS):
                current = self.last_seq(new.chat_id)
                seq = current + 1
                counter = self.Sequence(new.chat_id, last_seq=seq)
                key = self.SendKey(
                    send_key,
                    chat_id=new.chat_id,
                    seq=seq,
                    message_id=message_id,
                    ttl=timedelta(days=SEND_KEY_DAYS),
                )
                item = self.Message(
                    new.chat_id,
                    seq,
                    message_id=message_id,
                    user_id=new.user_id,
                    username=new.username,
                    body=new.body,
                    client_message_id=new.client_message_id,
                    timestamp=new.timestamp,
                    created_at=iso_from_ms(new.timestamp),
                    attachments=list(new.attachments),
                    kind=new.kind,
                    reply_to=new.reply_to or None,
                )
                counter_unchanged = (
                    self.Sequence.last_seq == current
                    if current
                    else self.Sequence.chat_id.does_not_exist()
                )
                try:
                    # The token makes a resend of this very attempt (after a lost response)
                    # succeed instead of failing on its own writes.
                    with TransactWrite(
                        connection=self.connection, client_request_token=f"{message_id}-{attempt}"
                    ) as transaction:
                        transaction.save(counter, condition=counter_unchanged)
                        transaction.save(key, condition=self.SendKey.send_key.does_not_exist())
                        transaction.save(item, condition=self.Message.seq.does_not_exist())
                except TransactWriteError as error:
                    failed = _failed_conditions(error)
                    if not any(failed):
                        raise
                    if len(failed) > 1 and failed[1]:
                        original = self._original(send_key, new.chat_id)
                        if original is not None:
                            return original
                    time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                    continue
                message = _message(item)
                search_index().put(message)
                return base.AppendResult(message=message, created=True)
        except PynamoDBException as error:
            raise base.StoreError(str(error)) from error
        raise base.StoreError(f"Gave up appending to {new.chat_id} after {APPEND_ATTEMPTS} tries.")

    def history(self, chat_id, *, limit, cursor=None):
        condition = self.Message.seq > 0
        if cursor is not None:
            condition = self.Message.seq < base.history_position(cursor, chat_id)
        try:
            page = [
                _message(item)
                for item in self.Message.query(
                    chat_id,
                    range_key_condition=condition,
                    scan_index_forward=False,
                    limit=limit + 1,
                    consistent_read=True,
                )
            ]
        except PynamoDBException as error:
            raise base.StoreError(str(error)) from error
        return base.HistoryPage.from_overfetch(chat_id, page, limit)

    def after(self, chat_id, *, after_seq, limit):
        try:
            page = [
                _message(item)
                for item in self.Message.query(
                    chat_id,
                    range_key_condition=self.Message.seq > after_seq,
                    limit=limit + 1,
                    consistent_read=True,
                )
            ]
        except PynamoDBException as error:
            raise base.StoreError(str(error)) from error
        return base.CatchUp.from_overfetch(page, limit)

    def last_seq(self, chat_id):
        try:
            return int(self.Sequence.get(chat_id, consistent_read=True).last_seq)
        except self.Sequence.DoesNotExist:
            return 0
        except PynamoDBException as error:
            raise base.StoreError(str(error)) from error

    def last_messages(self, chat_ids):
        chat_ids = list(dict.fromkeys(chat_ids))
        try:
            counters = {}
            for start in range(0, len(chat_ids), BATCH_SIZE):
                for item in self.Sequence.batch_get(chat_ids[start : start + BATCH_SIZE]):
                    counters[item.chat_id] = int(item.last_seq)
            keys = list(counters.items())
            newest = {}
            for start in range(0, len(keys), BATCH_SIZE):
                for item in self.Message.batch_get(keys[start : start + BATCH_SIZE]):
                    newest[item.chat_id] = _message(item)
        except PynamoDBException as error:
            raise base.StoreError(str(error)) from error
        return newest

    def messages_at(self, chat_id, seqs):
        keys = [(chat_id, seq) for seq in dict.fromkeys(seqs)]
        found = {}
        try:
            for start in range(0, len(keys), BATCH_SIZE):
                for item in self.Message.batch_get(keys[start : start + BATCH_SIZE]):
                    found[int(item.seq)] = _message(item)
        except PynamoDBException as error:
            raise base.StoreError(str(error)) from error
        return found

    def search(self, chat_ids, words, *, limit):
        return textsearch.search(self, chat_ids, words, limit=limit)

    def message_find(self, chat_id, message_id):
        # The index is eventually consistent (a message sent a moment ago may not be in it
        # yet); the item itself is then read consistently.
        try:
            for key in self.Message.by_message_id.query(message_id, limit=1):
                if key.chat_id == chat_id:
                    item = self.Message.get(chat_id, int(key.seq), consistent_read=True)
                    return _message(item)
        except self.Message.DoesNotExist:
            return None
        except PynamoDBException as error:
            raise base.StoreError(str(error)) from error
        return None

    def message_edit(self, chat_id, seq, *, body, edited_at):
        try:
            item = self.Message.get(chat_id, seq, consistent_read=True)
            if item.deleted:
                return None
            item.update(
                actions=[self.Message.body.set(body), self.Message.edited_at.set(edited_at)],
                condition=self.Message.deleted == False,  # noqa: E712 - a DynamoDB condition
            )
        except self.Message.DoesNotExist:
            return None
        except UpdateError as error:
            if "ConditionalCheckFailed" in str(error):
                return None
            raise base.StoreError(str(error)) from error
        except PynamoDBException as error:
            raise base.StoreError(str(error)) from error
        message = _message(item)
        search_index().put(message)
        return message

    def message_delete(self, chat_id, seq):
        try:
            item = self.Message.get(chat_id, seq, consistent_read=True)
            if not item.deleted:
                item.update(
                    actions=[
                        self.Message.body.set(""),
                        self.Message.attachments.set([]),
                        self.Message.deleted.set(True),
                        self.Message.edited_at.remove(),
                    ]
                )
        except self.Message.DoesNotExist:
            return None
        except PynamoDBException as error:
            raise base.StoreError(str(error)) from error
        message = _message(item)
        search_index().put(message)
        return message

    def chat_delete(self, chat_id):
        # Send keys name the chat but hold no text; they expire by their TTL.
        deleted = 0
        try:
            with self.Message.batch_write() as batch:
                for item in self.Message.query(
                    chat_id, attributes_to_get=["chatId", "seq"], consistent_read=True
                ):
                    batch.delete(item)
                    deleted += 1
            self.Sequence(chat_id).delete()
        except PynamoDBException as error:
            raise base.StoreError(str(error)) from error
        search_index().forget_chat(chat_id)
        return deleted

    def connections_write(self, *, put, remove):
        # BatchWriteItem: 25 puts or deletes a request (PynamoDB splits and resends what
        # DynamoDB left unprocessed).
        try:
            with self.Connection.batch_write() as batch:
                for connection in put:
                    batch.save(
                        self.Connection(
                            connection.connection_id,
                            user_id=connection.user_id,
                            chat_id=connection.chat_id,
                            connected_at=connection.connected_at,
                            ttl=_moment(connection.ttl),
                        )
                    )
                for connection_id in remove:
                    batch.delete(self.Connection(connection_id))
        except PynamoDBException as error:
            raise base.StoreError(str(error)) from error

    def connections_purge(self, *, now, limit=1000):
        # The table's TTL deletes expired items (within days, at no cost); readers skip them
        # until then. Scanning for them would read the whole table.
        return 0

    def connection_get(self, connection_id, *, now):
        try:
            item = self.Connection.get(connection_id, consistent_read=True)
        except self.Connection.DoesNotExist:
            return None
        except PynamoDBException as error:
            raise base.StoreError(str(error)) from error
        # DynamoDB deletes expired items lazily (up to days later): expiry is checked on read.
        return _connection(item) if _epoch(item.ttl) > now else None

    def users_online(self, user_ids, *, now):
        # One query of the user index per user, stopping at the first live socket.
        online = set()
        try:
            for user_id in dict.fromkeys(user_ids):
                items = self.Connection.by_user.query(
                    user_id,
                    filter_condition=self.Connection.ttl > _moment(now),
                    scan_index_forward=False,
                    page_size=10,
                )
                if next(iter(items), None) is not None:
                    online.add(user_id)
        except PynamoDBException as error:
            raise base.StoreError(str(error)) from error
        return online

    def connections_for_user(self, user_id, *, now):
        try:
            items = self.Connection.by_user.query(
                user_id, filter_condition=self.Connection.ttl > _moment(now)
            )
            return [_connection(item) for item in items]
        except PynamoDBException as error:
            raise base.StoreError(str(error)) from error
