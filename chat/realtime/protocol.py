"""The socket protocol's client frames: parsing and validation.

A client frame is a JSON object whose ``action`` names the operation (the origin's API Gateway
route key). ``parse_frame`` returns a valid frame or raises ``ProtocolError``, which the
consumer turns into an ``error`` frame without closing the socket.
"""

import json
import uuid

from django.conf import settings

from chat.text import is_storable

# action -> required fields and their JSON types.
ACTIONS: dict[str, dict[str, type]] = {
    "joinChat": {"chatId": str},
    "leaveChat": {"chatId": str},
    "sendMessage": {"chatId": str, "message": str, "clientMessageId": str},
    "sync": {"chatId": str, "afterSeq": int},
    "typing": {"chatId": str},
    "markRead": {"chatId": str, "seq": int},
    "markDelivered": {"chatId": str, "seq": int},
    "editMessage": {"chatId": str, "messageId": str, "message": str},
    "deleteMessage": {"chatId": str, "messageId": str},
    "react": {"chatId": str, "messageId": str, "emoji": str, "on": bool},
    "ping": {},
}


class ProtocolError(Exception):
    """A frame the server will not act on; becomes ``{"type": "error", ...}``."""

    def __init__(self, code: str, detail: str, *, frame: dict | None = None, retryable=False):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.retryable = retryable
        self.echo = {}
        if isinstance(frame, dict):
            # Echo what tells the client which of its requests failed (text that could not be
            # sent back, such as a lone surrogate, is left out).
            for name in ("action", "chatId", "clientMessageId", "messageId"):
                if isinstance(frame.get(name), str) and is_storable(frame[name]):
                    self.echo[name] = frame[name]

    def as_frame(self) -> dict:
        """The error frame sent back to the client."""
        payload = {"type": "error", "code": self.code, "detail": self.detail, **self.echo}
        if self.retryable:
            payload["retryable"] = True
        return payload


def canonical_chat_id(value: str) -> str | None:
    """The one spelling of a chat id (lower-case, hyphenated UUID), or None if it is none."""
    if len(value) > 64:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _type_name(kind: type) -> str:
    return {str: "a string", int: "a non-negative integer", bool: "true or false"}[kind]


def parse_frame(text: str | None) -> dict:
    """Decode and validate one client text frame."""
    if text is None:
        raise ProtocolError("bad_frame", "Frames must be JSON text, not binary.")
    if len(text) > settings.CHAT_FRAME_MAX_LENGTH:
        raise ProtocolError(
            "too_long", f"Frames are limited to {settings.CHAT_FRAME_MAX_LENGTH} characters."
        )
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError(
            "bad_json", "The frame is not valid JSON (or is nested too deeply)."
        ) from None
    if not isinstance(frame, dict):
        raise ProtocolError("bad_frame", "The frame must be a JSON object.")
    action = frame.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise ProtocolError(
            "unknown_action",
            f"Unknown action {action!r}; expected one of {', '.join(ACTIONS)}.",
            frame=frame,
        )
    for name, kind in ACTIONS[action].items():
        if name not in frame:
            raise ProtocolError("missing_field", f"{action} needs '{name}'.", frame=frame)
        value = frame[name]
        valid = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if kind is int and valid:
            valid = value >= 0
        if not valid:
            raise ProtocolError(
                "invalid_field", f"'{name}' must be {_type_name(kind)}.", frame=frame
            )
    if "chatId" in frame and "chatId" in ACTIONS[action]:
        # Parsed once here; everything after (membership, store keys, fan-out channels) uses
        # only the canonical spelling, so one chat has one identity.
        chat_id = canonical_chat_id(frame["chatId"])
        if chat_id is None:
            raise ProtocolError("invalid_field", "'chatId' must be a chat id.", frame=frame)
        frame["chatId"] = chat_id
    if action == "sendMessage" and not isinstance(frame.get("replyTo", ""), str):
        raise ProtocolError("invalid_field", "'replyTo' must be a message id.", frame=frame)
    attachments = frame.get("attachments", [])
    if action == "sendMessage" and not (
        isinstance(attachments, list) and all(isinstance(a, str) for a in attachments)
    ):
        raise ProtocolError(
            "invalid_field", "'attachments' must be a list of attachment ids.", frame=frame
        )
    return frame
