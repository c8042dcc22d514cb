"""Site-wide request checks."""

from django.conf import settings
from django.core.exceptions import BadRequest


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
