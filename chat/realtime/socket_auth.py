"""Who may open a socket, and whose it is.

A page of this site (its ``Origin``) opens it with the session cookie. A program opens it with
``Authorization: Bearer`` (a personal token, or the provider's access token) and needs no
``Origin``: a browser cannot put that header on a socket, so no other site's page can use it.
A bearer in the URL's query string is refused, as over REST.
"""

import asyncio
import json
from importlib import import_module
from types import SimpleNamespace
from typing import NamedTuple
from urllib.parse import parse_qsl, urlsplit

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

from chat.identity import bearer, provider, tokens
from chat.models import ApiToken
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


class Standing(NamedTuple):
    """Whether a socket's user is still signed in, read again after a change (or at a heartbeat)."""

    close_code: int | None  # None while signed in; else the code the socket closes with
    username: str = ""  # the user's name now, while signed in (a rename reaches the socket)


def session_standing(session_key: str | None, user_id: str) -> Standing:
    """Signed in while the session still logs ``user_id`` in; else the code a socket opened with
    it closes with: 4403 when the user was deactivated (or banned), 4401 when the session ended
    (logged out, expired, deleted, or the password changed)."""
    user = _user_for_session(session_key)
    if user.is_authenticated and str(user.pk) == user_id:
        return Standing(None, user.get_username())
    named = _user_by_id(user_id)
    if named is not None and not named.is_active:
        return Standing(4403)
    return Standing(4401)


def socket_standing(*, session_key: str | None, credential: str | None, user_id: str) -> Standing:
    """``session_standing`` for a socket opened with a cookie; for one opened with a bearer
    (``credential``, its tag): 4403 when the user was deactivated, 4401 when the token was
    revoked (a provider's token ends at its expiry, which the socket keeps itself)."""
    if credential is None:
        return session_standing(session_key, user_id)
    named = _user_by_id(user_id)
    if named is None:
        return Standing(4401)
    if not named.is_active:
        return Standing(4403)
    kind, _, ref = credential.partition(":")
    if kind == "token" and (
        not ApiToken.objects.filter(pk=ref, user_id=named.pk).exists() or tokens.suspended(named)
    ):
        return Standing(4401)
    return Standing(None, named.get_username())


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
        authorizations, cookie = [], None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                authorizations.append(value.decode("latin-1"))
            elif name == b"cookie" and cookie is None:
                cookie = value.decode("latin-1")
        try:
            bearer.refuse_query_tokens(
                name for name, _ in parse_qsl(scope.get("query_string", b"").decode("latin-1"))
            )
            if len(authorizations) > 1:
                raise bearer.Refused("send one Authorization header", error="invalid_request")
            value = bearer.from_header(authorizations[0] if authorizations else None)
            if value is not None:
                # A provider token's signature may need its keys read over the network: not in
                # a database thread, nor holding the handshake gate.
                if tokens.looks_like_token(value):
                    checked = bearer.check(value)  # nothing to read for a personal token
                else:
                    checked = await asyncio.get_running_loop().run_in_executor(
                        None, bearer.check, value
                    )
                async with self._handshake_gate():
                    credential = await database_sync_to_async(bearer.resolve)(checked)
                scope = dict(
                    scope, user=credential.user, session_key=None, credential=credential.tag,
                    credential_expires_at=credential.expires_at,
                )  # fmt: skip
                return await self.inner(scope, receive, send)
        except bearer.Refused as refused:
            return await refuse(scope, receive, send, 401, refused.challenge(), refused.description)
        except provider.ProviderUnavailable:
            return await refuse(
                scope, receive, send, 503, None, "the sign-in provider is unavailable"
            )
        cookies = parse_cookie(cookie) if cookie else {}
        key = cookies.get(settings.SESSION_COOKIE_NAME)
        async with self._handshake_gate():
            user = await database_sync_to_async(_user_for_session)(key)
        return await self.inner(dict(scope, user=user, session_key=key), receive, send)


async def refuse(scope, receive, send, status: int, challenge: str | None, detail: str) -> None:
    """Refuse a handshake with an HTTP answer where the server can send one (uvicorn: the
    ASGI ``websocket.http.response`` extension), else by accepting and closing with 4401 (an
    unauthorized bearer) or 1013 (try again later)."""
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        body = json.dumps({"status": status, "code": "not_authenticated" if status == 401
                           else "provider_unavailable", "detail": detail}).encode()  # fmt: skip
        headers = [(b"content-type", b"application/json")]
        if challenge:
            headers.append((b"www-authenticate", challenge.encode("latin-1", "replace")))
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": 4401 if status == 401 else 1013,
                "reason": detail[:120]})  # fmt: skip


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


def has_authorization(scope) -> bool:
    """Whether the handshake carries an ``Authorization`` header, or a token in its query
    string (both checked by ``SessionAuthMiddleware``, which answers why it refuses; a
    browser's page cannot send the header)."""
    if any(name == b"authorization" for name, _ in scope.get("headers", ())):
        return True
    query = scope.get("query_string", b"").decode("latin-1")
    return bearer.names_a_token(name for name, _ in parse_qsl(query))


class SameOriginMiddleware:
    """Refuse the handshake of a socket not opened by a page of this site (``origin_allowed``),
    unless it carries a bearer (a program's: ``SessionAuthMiddleware`` checks it).

    Channels' ``AllowedHostsOriginValidator`` compares only the Origin's host with
    ``ALLOWED_HOSTS``: a page on another port or scheme of an allowed host got in, where CSRF
    refuses the same page's form posts.
    """

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not (has_authorization(scope) or origin_allowed(scope)):
            return await WebsocketDenier()(scope, receive, send)
        return await self.inner(scope, receive, send)
