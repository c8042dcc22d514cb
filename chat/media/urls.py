"""Browser URLs of a message's attachments, made when it is shown: this app's /media/ URLs on
either backend, which check membership on every fetch (and, on S3, redirect to a short-lived
signed URL), so a link outlives neither its expiry nor its viewer's membership."""

from django.urls import reverse


def attachment_url(chat_id: str, attachment_id: str, *, thumbnail: bool = False) -> str:
    """The URL members fetch an attachment (or its thumbnail) at."""
    view = "chat:media-thumbnail" if thumbnail else "chat:media"
    return reverse(view, args=[chat_id, attachment_id])
