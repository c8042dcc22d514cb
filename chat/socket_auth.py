"""Who a socket belongs to: the user of the session cookie sent with its handshake."""

from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user
from django.http.cookie import parse_cookie

from chat.db import database_sync_to_async


def _user_for_session(session_key: str | None):
    # django.contrib.auth.get_user reads nothing of the request but its session: the user it
    # names, if the session is valid and the user's password has not changed since.
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return get_user(SimpleNamespace(session=session))


class SessionAuthMiddleware:
    """Put the handshake's logged-in user (or ``AnonymousUser``) in ``scope["user"]``.

    The user is read once, when the socket opens. Channels' ``AuthMiddlewareStack`` does the
    same and also wraps the socket's ``send`` to save a session changed while the socket is
    open: two lazy-object lookups and a coroutine for every frame sent, for sockets that never
    change their session.
    """

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        cookies = {}
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                cookies = parse_cookie(value.decode("latin-1"))
                break
        key = cookies.get(settings.SESSION_COOKIE_NAME)
        user = await database_sync_to_async(_user_for_session)(key)
        return await self.inner(dict(scope, user=user), receive, send)
