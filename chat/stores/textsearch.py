"""Word-prefix search over a relational table of message texts (``chat_id``, ``seq``, ``body``,
``timestamp``): the ORM store's own messages, or the DynamoDB store's search index.

On PostgreSQL it is full-text search (``simple`` configuration: no language's stemming, so any
language is found as written) with every word a prefix, served by a GIN index on the same
expression. Elsewhere (SQLite, the embedded default) each word is a case-insensitive substring
in SQL and then checked to start a word.
"""

import re

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection

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
