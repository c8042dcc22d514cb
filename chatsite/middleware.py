"""Site-wide request checks."""

import logging

from django.conf import settings
from django.core.exceptions import BadRequest
from django.template.response import TemplateResponse

from chat import errors
from chat.api.errors import json_error

logger = logging.getLogger(__name__)


class RefuseNulMiddleware:
    """A NUL character in the path, the query string or a form field is a 400.

    No page or query means one (PostgreSQL refuses it in any text, so an admin search or filter
    with one was a 500); refusing it here covers every view, the admin's included. JSON bodies
    are the API's to check (its text fields refuse NUL).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            "\x00" in request.path
            or _has_nul(request.GET)
            or (request.method == "POST" and not _is_upload(request) and _has_nul(request.POST))
        ):
            raise BadRequest("NUL characters are not allowed in requests.")
        return self.get_response(request)


def _is_upload(request) -> bool:
    # A file upload's body is not parsed here: its view first checks its size, and compares
    # its few fields with what it expects.
    return request.content_type == "multipart/form-data" and request.path.startswith("/uploads/")


def _has_nul(query) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in query.lists())


class PermissionsPolicyMiddleware:
    """Sends ``settings.PERMISSIONS_POLICY`` with every response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


class DatabaseUnavailableMiddleware:
    """A request that cannot reach the database is a 503 with ``Retry-After`` (the API's JSON
    ``database_unavailable`` under /api/, a page elsewhere), never a 500: the user is loaded
    here, where a failure can still be answered, and a view's failure is caught on its way
    out. (The API's views answer their own in the same shape.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            request.user.is_authenticated  # noqa: B018 - loads the session and the user now
        except errors.DATABASE_ERRORS as exc:
            return self._unavailable(request, exc)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, errors.DATABASE_ERRORS):
            return self._unavailable(request, exception)
        return None

    @staticmethod
    def _unavailable(request, exc):
        logger.warning("%s %s: database unavailable (%s)", request.method, request.path,
                       type(exc.__cause__ or exc).__name__)  # fmt: skip
        outage = errors.DatabaseUnavailable()
        if request.path.startswith("/api/"):
            response = json_error(503, outage.code, outage.detail, retryable=True)
        else:
            response = TemplateResponse(request, "503.html", status=503).render()
        response["Retry-After"] = str(errors.RETRY_AFTER_SECONDS)
        return response
