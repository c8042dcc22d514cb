"""Message search, the same for every store: the text of each message is kept in a relational
table (``chat.models.SearchEntry``: chat, seq, text, time), searched by word prefixes, and the
messages found are then read from the store.

The table is written off the send path: a store hands each new, edited or deleted message to
this process's ``SearchIndex``, which writes what waits every ``CHAT_SEARCH_INDEX_DELAY``
seconds in one statement (on PostgreSQL, indexing a text in the GIN index on every send made
S1's p99 several times longer). A search first writes this process's waiting entries, so a
sender finds their own message at once; other processes' become searchable within the delay.
Entries waiting in a process that is killed are lost (those messages are not found by search;
``manage.py search_index --rebuild`` rebuilds the table from the ORM store).

On PostgreSQL the search is full-text (``simple`` configuration: no language's stemming, so
any language is found as written) with every word a prefix, served by the GIN index on the
same expression. Elsewhere (SQLite, the embedded default) each word is a case-insensitive
substring in SQL, then checked to start a word.
"""

import logging
import re
import threading
import time

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import DatabaseError, close_old_connections, connection

logger = logging.getLogger(__name__)

CONFIG = "simple"
# The rows a non-PostgreSQL search reads to find ``limit`` that pass the word-start check.
SCAN_FACTOR = 20


def search_vector() -> SearchVector:
    """The expression the GIN index is built on (the query must use the same to be served)."""
    return SearchVector("body", config=CONFIG)


def _starts_words(body: str, words: list[str]) -> bool:
    return all(re.search(r"(?<!\w)" + re.escape(word), body, re.IGNORECASE) for word in words)


def search_rows(rows, words: list[str], *, limit: int) -> list:
    """Up to ``limit`` of the queryset ``rows`` whose body has a word starting with each of
    ``words`` (made only of word characters), newest first."""
    if not words:
        return []
    if connection.vendor == "postgresql":
        query = SearchQuery(" & ".join(f"{w}:*" for w in words), search_type="raw", config=CONFIG)
        found = rows.annotate(text_search=search_vector()).filter(text_search=query)
        return list(found.order_by("-timestamp", "-seq")[:limit])
    for word in words:
        rows = rows.filter(body__icontains=word)
    candidates = rows.order_by("-timestamp", "-seq")[: limit * SCAN_FACTOR]
    return [row for row in candidates if _starts_words(row.body, words)][:limit]


def _write(cursor, table: str, put: list[tuple], gone: list[tuple]) -> None:
    upsert = (
        "ON CONFLICT (chat_id, seq) DO UPDATE SET body = excluded.body, "
        "timestamp = excluded.timestamp"
    )
    if connection.vendor == "postgresql":
        # Arrays: one statement whatever the number of rows.
        if put:
            cursor.execute(
                f"INSERT INTO {table} (chat_id, seq, body, timestamp) SELECT * FROM unnest("
                f"%s::varchar[], %s::bigint[], %s::text[], %s::bigint[]) {upsert}",
                [list(column) for column in zip(*put, strict=True)],
            )
        if gone:
            cursor.execute(
                f"DELETE FROM {table} WHERE (chat_id, seq) IN "
                "(SELECT * FROM unnest(%s::varchar[], %s::bigint[]))",
                [list(column) for column in zip(*gone, strict=True)],
            )
        return
    if put:
        cursor.executemany(
            f"INSERT INTO {table} (chat_id, seq, body, timestamp) VALUES (%s, %s, %s, %s) {upsert}",
            put,
        )
    if gone:
        cursor.executemany(f"DELETE FROM {table} WHERE chat_id = %s AND seq = %s", gone)


def _searchable(message) -> bool:
    return not message.deleted and message.kind == "text" and bool(message.body)


class SearchIndex:
    """This process's writes to the search table: the latest text of each message (or that it
    is gone), written together every ``delay`` seconds (at once when ``delay`` is 0)."""

    def __init__(self, delay: float):
        self.delay = delay
        self._waiting: dict[tuple[str, int], tuple[str, int] | None] = {}
        self._lock = threading.Lock()  # guards _waiting
        self._writing = threading.Lock()  # one write at a time, in order
        self._thread = None

    def put(self, message) -> None:
        """Index the message as it now is: its text, or nothing (deleted, a system note)."""
        value = (message.body, message.timestamp) if _searchable(message) else None
        with self._lock:
            self._waiting[(message.chat_id, message.seq)] = value
        if self.delay <= 0:
            self.flush()
        else:
            self._start()

    def forget_chat(self, chat_id: str) -> None:
        """Drop a deleted chat's entries, written or waiting."""
        from chat.models import SearchEntry

        with self._writing:
            with self._lock:
                for key in [k for k in self._waiting if k[0] == chat_id]:
                    del self._waiting[key]
            SearchEntry.objects.filter(chat_id=chat_id).delete()

    def flush(self) -> None:
        """Write what waits (one upsert, one delete)."""
        from chat.models import SearchEntry

        with self._writing:
            with self._lock:
                batch, self._waiting = self._waiting, {}
            if not batch:
                return
            put = [(c, s, v[0], v[1]) for (c, s), v in batch.items() if v is not None]
            gone = [key for key, value in batch.items() if value is None]
            try:
                # Plain statements: building hundreds of model objects and compiling their
                # INSERT each second held the GIL long enough to delay sockets' frames.
                table = connection.ops.quote_name(SearchEntry._meta.db_table)
                with connection.cursor() as cursor:
                    _write(cursor, table, put, gone)
            except DatabaseError:
                logger.exception(
                    "Search index not written for %d messages; they are not found by search",
                    len(batch),
                )

    def _start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="search-index", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self.delay)
            try:
                self.flush()
            except Exception:
                logger.exception("Search index writer failed; retrying")
            finally:
                # Given back after each write, not held through the sleep (a pooled connection
                # goes back to the pool; an unpooled one past its age is closed).
                close_old_connections()


_index = None
_index_lock = threading.Lock()


def search_index() -> SearchIndex:
    """The process's search index writer."""
    global _index
    if _index is None or _index.delay != settings.CHAT_SEARCH_INDEX_DELAY:
        with _index_lock:
            if _index is None or _index.delay != settings.CHAT_SEARCH_INDEX_DELAY:
                _index = SearchIndex(settings.CHAT_SEARCH_INDEX_DELAY)
    return _index


def search(store, chat_ids: list[str], words: list[str], *, limit: int) -> list:
    """The store's messages of ``chat_ids`` found by ``words``, newest first (see
    ``MessageStore.search``); deleted ones never, even if their entry is not gone yet."""
    from chat.models import SearchEntry

    index = search_index()
    index.flush()
    hits = search_rows(SearchEntry.objects.filter(chat_id__in=list(chat_ids)), words, limit=limit)
    by_chat: dict[str, list[int]] = {}
    for hit in hits:
        by_chat.setdefault(hit.chat_id, []).append(hit.seq)
    messages = {
        (chat_id, seq): message
        for chat_id, seqs in by_chat.items()
        for seq, message in store.messages_at(chat_id, seqs).items()
    }
    found = [messages.get((hit.chat_id, hit.seq)) for hit in hits]
    return [m for m in found if m is not None and _searchable(m)]
