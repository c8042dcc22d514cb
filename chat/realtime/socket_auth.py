"""Who may open a socket: a page of this site (its ``Origin``), and whose it is (the user of the
session cookie sent with its handshake)."""

import asyncio
from importlib import import_module
from types import SimpleNamespace
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user,
    get_user_model,
    load_backend,
)
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends import db as db_sessions
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.http import is_same_domain

from chat.realtime.db import database_sync_to_async


class _HandshakeSession(db_sessions.SessionStore):
    """The database session engine's session, read in one plain statement: every socket's
    handshake reads one, thousands at once after a deploy, and the ORM's building and
    compiling of the query was most of the read."""

    # Session data is signed with a salt named after the engine's class: this one's must
    # read what the engine wrote.
    key_salt = "django.contrib.sessions." + db_sessions.SessionStore.__qualname__

    def _get_session_from_db(self):
        model = self.model
        using = router.db_for_read(model)
        connection = connections[using]
        expire_date = model._meta.get_field("expire_date")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT session_data FROM {connection.ops.quote_name(model._meta.db_table)} "
                "WHERE session_key = %s AND expire_date > %s",
                [self.session_key, expire_date.get_db_prep_value(timezone.now(), connection)],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return model(session_key=self.session_key, session_data=row[0])


def _session_store():
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return _HandshakeSession if store is db_sessions.SessionStore else store


def _user_for_session(session_key: str | None):
    """The user the session names, as ``django.contrib.auth.get_user`` finds it: the session
    is valid, names a configured backend and an active user, and carries that user's current
    session hash (a password change ends it). Unlike ``get_user`` it never writes the
    session (a mismatch is simply not this user); the next page load does that."""
    session = _session_store()(session_key)
    try:
        user_id = get_user_model()._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
    except (KeyError, ValidationError):
        return AnonymousUser()
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return AnonymousUser()
    backend = load_backend(backend_path)
    if not isinstance(backend, ModelBackend):
        return get_user(SimpleNamespace(session=session))
    user = _user_by_id(user_id)
    if user is None or not backend.user_can_authenticate(user):
        return AnonymousUser()
    session_hash = session.get(HASH_SESSION_KEY)
    if not session_hash:
        return AnonymousUser()
    if constant_time_compare(session_hash, user.get_session_auth_hash()) or any(
        constant_time_compare(session_hash, fallback)
        for fallback in user.get_session_auth_fallback_hash()
    ):
        return user
    return AnonymousUser()


def session_close_code(session_key: str | None, user_id: str) -> int | None:
    """None while the session still logs ``user_id`` in; else the code a socket opened with
    it closes with: 4403 when the user was deactivated (or banned), 4401 when the session ended
    (logged out, expired, deleted, or the password changed)."""
    user = _user_for_session(session_key)
    if user.is_authenticated and str(user.pk) == user_id:
        return None
    named = _user_by_id(user_id)
    if named is not None and not named.is_active:
        return 4403
    return 4401


def _user_by_id(user_id):
    """The user with the fields a socket uses (the rest load on access), or None: what
    ``ModelBackend.get_user`` reads, in one plain statement."""
    User = get_user_model()
    meta = User._meta
    using = router.db_for_read(User)
    connection = connections[using]
    wanted = {meta.pk.name, User.USERNAME_FIELD, "password", "is_active"}
    fields = [field for field in meta.concrete_fields if field.name in wanted]  # from_db's order
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {connection.ops.quote_name(meta.db_table)} "
            f"WHERE {connection.ops.quote_name(meta.pk.column)} = %s",
            [meta.pk.get_db_prep_value(user_id, connection)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return User.from_db(using, [field.attname for field in fields], row)


class SessionAuthMiddleware:
    """Put the handshake's logged-in user (or ``AnonymousUser``) in ``scope["user"]``.

    The user is read once, when the socket opens. Channels' ``AuthMiddlewareStack`` does the
    same and also wraps the socket's ``send`` to save a session changed while the socket is
    open: two lazy-object lookups and a coroutine for every frame sent, for sockets that never
    change their session.
    """

    def __init__(self, inner):
        self.inner = inner
        self._loop = self._handshakes = None

    def _handshake_gate(self) -> asyncio.Semaphore:
        # Handshakes read their sessions a few at a time (as many as there are database
        # threads). When thousands of sockets reconnect at once, those already open get their
        # joins and sends served between handshakes instead of queueing behind all of them.
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._handshakes = loop, asyncio.Semaphore(settings.CHAT_DB_THREADS)
        return self._handshakes

    async def __call__(self, scope, receive, send):
        cookies = {}
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                cookies = parse_cookie(value.decode("latin-1"))
                break
        key = cookies.get(settings.SESSION_COOKIE_NAME)
        async with self._handshake_gate():
            user = await database_sync_to_async(_user_for_session)(key)
        return await self.inner(dict(scope, user=user, session_key=key), receive, send)


def origin_allowed(scope) -> bool:
    """Whether the handshake comes from a page of this site, judged as Django's CSRF check
    judges a form's ``Origin``: the same scheme, host and port as the request itself (its
    ``Host`` in ``ALLOWED_HOSTS``), or one of ``CSRF_TRUSTED_ORIGINS`` (``*.`` for subdomains).
    A missing or ``null`` Origin is refused."""
    headers = {name: value for name, value in scope.get("headers", ()) if name in _ORIGIN_HEADERS}
    origin = headers.get(b"origin", b"").decode("latin-1").lower()
    host = headers.get(b"host", b"").decode("latin-1").lower()
    domain, _ = split_domain_port(host)
    if not origin or not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if scope.get("scheme") in {"wss", "https"} else "http"
    if origin == f"{scheme}://{host}":
        return True
    trusted = [o.lower() for o in settings.CSRF_TRUSTED_ORIGINS]
    if origin in trusted:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    return any(
        parsed.scheme == pattern.scheme and is_same_domain(parsed.netloc, pattern.netloc[1:])
        for pattern in map(urlsplit, trusted)
        if pattern.netloc.startswith("*.")
    )


_ORIGIN_HEADERS = {b"origin", b"host"}


class SameOriginMiddleware:
    """Refuse the handshake of a socket not opened by a page of this site (``origin_allowed``).

    Channels' ``AllowedHostsOriginValidator`` compares only the Origin's host with
    ``ALLOWED_HOSTS``: a page on another port or scheme of an allowed host got in, where CSRF
    refuses the same page's form posts.
    """

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.inner(scope, receive, send)
