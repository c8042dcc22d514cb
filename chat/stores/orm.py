"""Store backend on the relational database (the embedded default).

The per-chat counter and the message are written atomically, so a failed insert rolls the
counter back and ``seq`` stays dense. Idempotency is the unique constraint on
``(chat_id, user_id, client_message_id)``: no lookup on the hot path. On PostgreSQL the append
is one statement (one round trip, one commit); elsewhere it is a short transaction.
"""

import json
import uuid

from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, Subquery

from chat.models import ChatSequence, StoredMessage
from chat.models import Connection as ConnectionRow
from chat.stores import base, textsearch
from chat.stores.textsearch import search_index


def _message(row: StoredMessage) -> base.Message:
    return base.Message(
        chat_id=row.chat_id,
        seq=row.seq,
        message_id=row.message_id,
        user_id=row.user_id,
        username=row.username,
        body=row.body,
        client_message_id=row.client_message_id,
        timestamp=row.timestamp,
        attachments=tuple(row.attachments or ()),
        deleted=row.deleted,
        edited_at=row.edited_at,
        kind=row.kind,
        reply_to=row.reply_to,
    )


def _connection(row: ConnectionRow) -> base.Connection:
    return base.Connection(
        connection_id=row.connection_id,
        user_id=row.user_id,
        connected_at=row.connected_at,
        ttl=row.ttl,
        chat_id=row.chat_id,
    )


# Rows per registry statement (SQLite allows 32,766 parameters; five a row).
REGISTRY_BATCH = 500


def _chunks(items: list) -> list[list]:
    return [items[start : start + REGISTRY_BATCH] for start in range(0, len(items), REGISTRY_BATCH)]


def _fetch_one(sql: str, params: list):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _execute(sql: str, params: list) -> int:
    """Run one statement; the number of rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _connection_values(c: base.Connection) -> tuple:
    return (c.connection_id, c.user_id, c.chat_id, c.connected_at, c.ttl)


def _placeholders(rows: int, columns: int) -> str:
    """``(%s, …), (%s, …)``: ``rows`` groups of ``columns`` parameters."""
    group = f"({', '.join(['%s'] * columns)})"
    return ", ".join([group] * rows)


def _connection_table() -> str:
    return connection.ops.quote_name(ConnectionRow._meta.db_table)


class MessageStore(base.MessageStore):
    """History and connections in Django ORM tables."""

    def _next_seq(self, chat_id: str) -> int:
        # One statement creates or bumps the counter and locks its row until commit, so
        # concurrent senders to a chat queue here and receive consecutive numbers.
        table = connection.ops.quote_name(ChatSequence._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (chat_id, last_seq) VALUES (%s, 1) "
                f"ON CONFLICT (chat_id) DO UPDATE SET last_seq = {table}.last_seq + 1 "
                "RETURNING last_seq",
                [chat_id],
            )
            return cursor.fetchone()[0]

    def _insert_in_one_statement(self, new: base.NewMessage, message_id: str) -> int:
        # PostgreSQL: the counter bump and the insert are one statement, so a unique violation
        # (a retried key) undoes both.
        counters = connection.ops.quote_name(ChatSequence._meta.db_table)
        messages = connection.ops.quote_name(StoredMessage._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH next AS (INSERT INTO {counters} (chat_id, last_seq) VALUES (%s, 1) "
                f"ON CONFLICT (chat_id) DO UPDATE SET last_seq = {counters}.last_seq + 1 "
                "RETURNING last_seq) "
                f"INSERT INTO {messages} (chat_id, seq, message_id, user_id, username, body, "
                "client_message_id, attachments, timestamp, deleted, kind, reply_to) "
                "SELECT %s, next.last_seq, %s, %s, %s, %s, %s, %s::jsonb, %s, false, %s, %s "
                "FROM next "
                "RETURNING seq",
                [
                    new.chat_id,
                    new.chat_id,
                    message_id,
                    new.user_id,
                    new.username,
                    new.body,
                    new.client_message_id,
                    json.dumps(list(new.attachments)),
                    new.timestamp,
                    new.kind,
                    new.reply_to,
                ],
            )
            return cursor.fetchone()[0]

    def append(self, new: base.NewMessage) -> base.AppendResult:
        message_id = str(uuid.uuid4())
        try:
            if connection.vendor == "postgresql" and not connection.in_atomic_block:
                seq = self._insert_in_one_statement(new, message_id)
                stored = new.stored_as(seq=seq, message_id=message_id)
                search_index().put(stored)
                return base.AppendResult(message=stored, created=True)
            with transaction.atomic():
                row = StoredMessage.objects.create(
                    chat_id=new.chat_id,
                    seq=self._next_seq(new.chat_id),
                    message_id=message_id,
                    user_id=new.user_id,
                    username=new.username,
                    body=new.body,
                    client_message_id=new.client_message_id,
                    attachments=list(new.attachments),
                    timestamp=new.timestamp,
                    kind=new.kind,
                    reply_to=new.reply_to,
                )
        except IntegrityError:
            original = StoredMessage.objects.filter(
                chat_id=new.chat_id,
                user_id=new.user_id,
                client_message_id=new.client_message_id,
            ).first()
            if original is None:
                raise
            return base.AppendResult(message=_message(original), created=False)
        stored = _message(row)
        search_index().put(stored)
        return base.AppendResult(message=stored, created=True)

    def history(self, chat_id, *, limit, cursor=None):
        rows = StoredMessage.objects.filter(chat_id=chat_id)
        if cursor is not None:
            rows = rows.filter(seq__lt=base.history_position(cursor, chat_id))
        page = [_message(row) for row in rows.order_by("-seq")[: limit + 1]]
        return base.HistoryPage.from_overfetch(chat_id, page, limit)

    def after(self, chat_id, *, after_seq, limit):
        rows = StoredMessage.objects.filter(chat_id=chat_id, seq__gt=after_seq).order_by("seq")
        return base.CatchUp.from_overfetch([_message(row) for row in rows[: limit + 1]], limit)

    def last_seq(self, chat_id):
        table = connection.ops.quote_name(ChatSequence._meta.db_table)
        row = _fetch_one(f"SELECT last_seq FROM {table} WHERE chat_id = %s", [chat_id])
        return row[0] if row else 0

    def last_messages(self, chat_ids):
        newest = ChatSequence.objects.filter(chat_id=OuterRef("chat_id")).values("last_seq")
        rows = StoredMessage.objects.filter(chat_id__in=list(chat_ids), seq=Subquery(newest))
        return {row.chat_id: _message(row) for row in rows}

    def message_find(self, chat_id, message_id):
        row = StoredMessage.objects.filter(chat_id=chat_id, message_id=message_id).first()
        return _message(row) if row is not None else None

    def messages_at(self, chat_id, seqs):
        rows = StoredMessage.objects.filter(chat_id=chat_id, seq__in=list(seqs))
        return {row.seq: _message(row) for row in rows}

    def search(self, chat_ids, words, *, limit):
        return textsearch.search(self, chat_ids, words, limit=limit)

    def message_edit(self, chat_id, seq, *, body, edited_at):
        rows = StoredMessage.objects.filter(chat_id=chat_id, seq=seq, deleted=False)
        rows.update(body=body, edited_at=edited_at)
        row = rows.first()
        if row is None:
            return None
        edited = _message(row)
        search_index().put(edited)
        return edited

    def message_delete(self, chat_id, seq):
        rows = StoredMessage.objects.filter(chat_id=chat_id, seq=seq)
        rows.filter(deleted=False).update(body="", attachments=[], deleted=True, edited_at=None)
        row = rows.first()
        if row is None:
            return None
        tombstone = _message(row)
        search_index().put(tombstone)
        return tombstone

    def chat_delete(self, chat_id):
        with transaction.atomic():
            deleted, _ = StoredMessage.objects.filter(chat_id=chat_id).delete()
            ChatSequence.objects.filter(chat_id=chat_id).delete()
        search_index().forget_chat(chat_id)
        return deleted

    def connections_write(self, *, put, remove):
        # Plain statements, many sockets each: after a deploy thousands open, join and close at
        # once (chat.realtime.registry batches their writes). On PostgreSQL the rows go as five
        # arrays, so the statement's text is the same whatever their number (the driver parses a
        # query text once, not every batch of a new size).
        table = _connection_table()
        upsert = (
            "ON CONFLICT (connection_id) DO UPDATE SET user_id = excluded.user_id, "
            "chat_id = excluded.chat_id, connected_at = excluded.connected_at, ttl = excluded.ttl"
        )
        columns = "(connection_id, user_id, chat_id, connected_at, ttl)"
        arrays = connection.vendor == "postgresql"
        for rows in _chunks(put):
            if arrays:
                sql = (
                    f"INSERT INTO {table} {columns} SELECT * FROM unnest("
                    "%s::varchar[], %s::varchar[], %s::varchar[], %s::bigint[], %s::bigint[]) "
                )
                params = [list(v) for v in zip(*map(_connection_values, rows), strict=True)]
            else:
                sql = f"INSERT INTO {table} {columns} VALUES {_placeholders(len(rows), 5)} "
                params = [value for c in rows for value in _connection_values(c)]
            _execute(sql + upsert, params)
        for ids in _chunks(remove):
            if arrays:
                _execute(f"DELETE FROM {table} WHERE connection_id = ANY(%s::varchar[])", [ids])
            else:
                where = f"connection_id IN {_placeholders(1, len(ids))}"
                _execute(f"DELETE FROM {table} WHERE {where}", list(ids))

    def connections_purge(self, *, now, limit=1000):
        # By the ttl index, a batch at a time.
        table = _connection_table()
        return _execute(
            f"DELETE FROM {table} WHERE connection_id IN "
            f"(SELECT connection_id FROM {table} WHERE ttl <= %s LIMIT %s)",
            [now, limit],
        )

    def connection_get(self, connection_id, *, now):
        row = ConnectionRow.objects.filter(connection_id=connection_id, ttl__gt=now).first()
        return _connection(row) if row else None

    def connections_for_user(self, user_id, *, now):
        rows = ConnectionRow.objects.filter(user_id=user_id, ttl__gt=now).order_by("connected_at")
        return [_connection(row) for row in rows]

    def users_online(self, user_ids, *, now):
        rows = ConnectionRow.objects.filter(user_id__in=list(user_ids), ttl__gt=now)
        return set(rows.values_list("user_id", flat=True).distinct())
