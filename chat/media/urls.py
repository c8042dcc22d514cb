"""Browser URLs of a message's attachments, made when it is shown: this app's /media/ URLs on
either backend, which check membership on every fetch (and, on S3, redirect to a short-lived
signed URL), so a link outlives neither its expiry nor its viewer's membership."""

from django.urls import reverse


def _url(chat_id: str, described: dict, *, thumbnail: bool) -> str:
    view = "chat:media-thumbnail" if thumbnail else "chat:media"
    return reverse(view, args=[chat_id, described["id"]])


def attachment_payload(chat_id: str, described: dict) -> dict:
    """A stored descriptor as clients see it: ``{id, name, contentType, size, url}`` and, for
    images, ``thumbnailUrl``, ``width``, ``height``."""
    payload = {
        "id": described["id"],
        "name": described["name"],
        "contentType": described["contentType"],
        "size": described["size"],
        "url": _url(chat_id, described, thumbnail=False),
    }
    if described.get("thumbnailKey"):
        payload.update(
            thumbnailUrl=_url(chat_id, described, thumbnail=True),
            width=described["width"],
            height=described["height"],
        )
    return payload
