"""Logs: one JSON object per line (python-json-logger), carrying the ids of what a line is
about — the HTTP request, the user, the chat and the socket — from context variables that the
request middleware and the socket consumer set."""

import asyncio
import contextvars
import logging
import uuid
from datetime import UTC, datetime

from django.http import HttpRequest
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

request_id = contextvars.ContextVar("request_id", default="")
user_id = contextvars.ContextVar("user_id", default="")
chat_id = contextvars.ContextVar("chat_id", default="")
socket_id = contextvars.ContextVar("socket_id", default="")

CONTEXT = {"request_id": request_id, "user_id": user_id, "chat_id": chat_id, "socket_id": socket_id}
# A request id from the load balancer or a proxy in front, when one gave it.
REQUEST_ID_HEADERS = ("HTTP_X_REQUEST_ID", "HTTP_X_AMZN_TRACE_ID")


def detached(coro) -> asyncio.Task:
    """A task for long-lived work (a writer, a subscription) with none of the current request's
    or socket's ids: it outlives whoever happened to start it, and its lines are its own."""
    return asyncio.get_running_loop().create_task(coro, context=contextvars.Context())


class ContextFilter(logging.Filter):
    """Adds the ids set for the current request or socket to each record (those set only).

    Django hands its request lines the request itself (``extra={"request": …}``), which a JSON
    line would print with its query string: it is replaced by its method and path, and
    uvicorn's socket lines lose their query string too, so that nothing a client put in a URL
    (a token, refused; a search) reaches the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if isinstance(request, HttpRequest):
            record.request = f"{request.method} {request.path}"
        if str(record.name).startswith("uvicorn") and isinstance(record.args, tuple):
            # uvicorn's lines about sockets name their path with its query string.
            record.args = tuple(_without_query(arg) for arg in record.args)
        for name, variable in CONTEXT.items():
            value = variable.get()
            if value and not hasattr(record, name):
                setattr(record, name, value)
        return True


def _without_query(value):
    if isinstance(value, str) and value.startswith("/") and "?" in value:
        return value.split("?", 1)[0]
    return value


class Formatter(JsonFormatter):
    """``{"time", "level", "logger", "message", ...ids, ...extra}``: the time in ISO 8601 UTC,
    exceptions as text."""

    def __init__(self, *args, **kwargs):
        renamed = {"asctime": "time", "levelname": "level", "name": "logger"}
        kwargs.setdefault("rename_fields", renamed)
        kwargs.setdefault("timestamp", False)
        # uvicorn adds a copy of its message with terminal colours.
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "color_message"])
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s", *args, **kwargs)

    def formatTime(self, record, datefmt=None):
        moment = datetime.fromtimestamp(record.created, tz=UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def add_fields(self, log_data, record, message_dict):
        super().add_fields(log_data, record, message_dict)
        # CloudWatch's embedded metric format lives under "_aws" (a name the base class skips).
        if hasattr(record, "_aws"):
            log_data["_aws"] = record._aws


class RequestContextMiddleware:
    """Sets the request's id (the one a proxy gave, or a new one) and user id for its log lines,
    and returns the id in ``X-Request-Id``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = next((request.META[h] for h in REQUEST_ID_HEADERS if request.META.get(h)), "")
        rid = (given[:128] if given.isprintable() else "") or uuid.uuid4().hex
        # Set, not reset afterwards: Django logs a failed request's response after the
        # middleware has returned. Each request starts from its own context (a task under
        # ASGI, a fresh setting of both ids under WSGI).
        request_id.set(rid)
        user = getattr(request, "user", None)
        user_id.set(str(user.pk) if user is not None and user.is_authenticated else "")
        response = self.get_response(request)
        response["X-Request-Id"] = rid
        return response
