"""JSON errors for the API: ``{"status", "code", "detail"}`` (plus ``fields`` for bad input)."""

from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from chat.errors import RETRY_AFTER_SECONDS, ChatError, database_unavailable


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()))
        text = _first_message(value)
        return text if field in {"detail", "non_field_errors"} else f"{field}: {text}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def exception_handler(exc, context):
    """Render chat and DRF errors in one JSON shape (an unreachable database is a retryable
    503); anything else stays a 500."""
    exc = database_unavailable(exc) or exc
    if isinstance(exc, ChatError):
        body = {"status": exc.status, "code": exc.code, "detail": exc.detail}
        if exc.retryable:
            body["retryable"] = True
        response = Response(body, status=exc.status)
        if exc.status == 503:
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    body = {
        "status": response.status_code,
        "code": "error",
        "detail": _first_message(response.data),
    }
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        body["code"] = codes if isinstance(codes, str) else "invalid"
        if isinstance(exc, exceptions.Throttled):
            body["retryable"] = True  # after Retry-After seconds
        if isinstance(exc, exceptions.ValidationError) and isinstance(response.data, dict):
            body["fields"] = response.data
    response.data = body
    return response


def json_error(status: int, code: str, detail: str, *, retryable: bool = False) -> JsonResponse:
    """An error in the API's shape, for answers made outside DRF's views."""
    body = {"status": status, "code": code, "detail": detail}
    if retryable:
        body["retryable"] = True
    return JsonResponse(body, status=status)


def json_not_found(request, exception=None):
    """404 for any unknown URL under /api/ (pages get Django's HTML 404)."""
    return json_error(404, "not_found", "No such endpoint.")


# Django's own error answers (a body too large or with a NUL is a 400, a CSRF failure outside
# DRF a 403, a crash a 500) for URLs under /api/, keyed by status.
API_ERRORS = {
    400: ("bad_request", "The request could not be read."),
    403: ("forbidden", "Forbidden."),
    404: ("not_found", "No such endpoint."),
    500: ("server_error", "Internal server error."),
}
