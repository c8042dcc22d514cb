"""The API's JSON parser: DRF's, bounded in size and nesting."""

import json

from rest_framework import exceptions, parsers

# The largest request body the API reads. Its largest legitimate body is a message of
# CHAT_MESSAGE_MAX_LENGTH characters, each at most 6 characters once JSON-escaped.
MAX_BODY_BYTES = 64 * 1024


class BodyTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = f"Request bodies are limited to {MAX_BODY_BYTES} bytes."
    default_code = "too_large"


class JSONParser(parsers.JSONParser):
    """Refuses a body over ``MAX_BODY_BYTES`` before reading it, and JSON nested deeper than
    Python's parser can follow (DRF answers that with a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) if request else 0
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            raise BodyTooLarge()
        body = stream.read(MAX_BODY_BYTES + 1) if stream is not None else b""
        if len(body) > MAX_BODY_BYTES:
            raise BodyTooLarge()
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            return json.loads(body.decode(encoding), parse_constant=_refuse_constant)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
        except ValueError as error:  # includes UnicodeDecodeError
            raise exceptions.ParseError(f"JSON parse error - {error}") from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
