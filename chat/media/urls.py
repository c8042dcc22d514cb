"""Browser URLs of a message's attachments, made when it is shown."""

from django.conf import settings
from django.urls import reverse

from chat.media.storage import url_for


def _url(chat_id: str, described: dict, *, thumbnail: bool) -> str:
    if settings.CHAT_MEDIA == "s3":
        return url_for(described["thumbnailKey"] if thumbnail else described["key"])
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
