"""ASGI entry point: HTTP through Django, ``/ws/`` through Channels.

Sockets need an ``Origin`` of this site and a logged-in session (checked by the consumer).
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
# Build the HTTP app first: it sets Django up before any model is imported by the routing.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.media.sweeper import start_sweeper  # noqa: E402
from chat.realtime.routing import websocket_urlpatterns  # noqa: E402
from chat.realtime.socket_auth import SameOriginMiddleware, SessionAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginMiddleware(SessionAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)

# Unattached uploads and missing previews are cleaned up by each server process, on either
# media backend.
start_sweeper()

# What starting made (modules, settings, URL patterns: most of the heap) lives as long as the
# process. Frozen, it is left out of every later collection, which then scans only what sockets
# and requests made (full collections of the whole heap paused the server mid-load).
gc.freeze()
# A full collection every 100 collections of the middle generation, not every 10: thousands of
# sockets opening at once made several full collections, each a long pause of the server, in a
# reconnect storm; with this, none (the young generations are collected as often as before).
gc.set_threshold(700, 10, 100)
