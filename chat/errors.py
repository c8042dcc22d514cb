"""Errors the chat services raise; the API and the socket turn them into error responses."""

import contextlib

from django.db import InterfaceError, OperationalError

from chat.stores.base import StoreError


class ChatError(Exception):
    """A request the chat cannot carry out; ``code`` is stable, ``detail`` is for people."""

    code = "invalid"
    status = 400
    retryable = False

    def __init__(self, detail: str, *, code: str | None = None):
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class InvalidInput(ChatError):
    """The request is malformed or breaks a limit."""


class NotFound(ChatError):
    """The chat does not exist (or the caller may not know that it does)."""

    code = "not_found"
    status = 404


class Forbidden(ChatError):
    """The caller is not allowed to act on this chat."""

    code = "not_member"
    status = 403


class Locked(ChatError):
    """The chat is locked or archived by a moderator: it can be read, not written to."""

    code = "chat_locked"
    status = 403

    def __init__(self, detail: str = "This chat is read-only: a moderator locked it."):
        super().__init__(detail)


class Throttled(ChatError):
    """The user has spent a budget of this kind of request; retry later."""

    code = "throttled"
    status = 429
    retryable = True


class Unavailable(ChatError):
    """The store could not be reached in time; the same request may be retried."""

    code = "store_unavailable"
    status = 503
    retryable = True

    def __init__(self, detail: str = "The message store is unavailable; retry shortly."):
        super().__init__(detail)


class ProviderUnavailable(Unavailable):
    """The OpenID Connect provider's keys could not be read to check a token; retry."""

    code = "provider_unavailable"

    def __init__(self, detail: str = "The sign-in provider cannot be reached; retry shortly."):
        super().__init__(detail)


class DatabaseUnavailable(ChatError):
    """The relational database (users, chats, memberships) could not be reached; the same
    request may be retried."""

    code = "database_unavailable"
    status = 503
    retryable = True

    def __init__(self, detail: str = "The database is unavailable; retry shortly."):
        super().__init__(detail)


# Seconds a client should wait before retrying a 503 (``Retry-After``).
RETRY_AFTER_SECONDS = 5


# What the database's connection failing raises (refused, dropped, no connection free in the
# pool in time): the edges answer ``DatabaseUnavailable`` for these.
DATABASE_ERRORS = (OperationalError, InterfaceError)


def database_unavailable(exc: BaseException) -> DatabaseUnavailable | None:
    """``DatabaseUnavailable`` when ``exc`` is one of ``DATABASE_ERRORS``, else None."""
    return DatabaseUnavailable() if isinstance(exc, DATABASE_ERRORS) else None


@contextlib.contextmanager
def store_unavailable_as_error():
    """Report a ``StoreError`` raised inside the block as ``Unavailable``."""
    try:
        yield
    except StoreError as exc:
        raise Unavailable() from exc
