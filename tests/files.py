"""Files for tests: pictures, and asking for an upload URL as a page does."""

import io

from PIL import Image

from tests.clients import api_as


def png(width=64, height=48, colour=(200, 30, 30)) -> bytes:
    """A plain PNG picture of one colour."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def upload_url(user, chat_id, filename="photo.png", content_type="image/png", size=None, data=b""):
    """``POST /api/upload-url`` as ``user`` for a file of ``size`` bytes (or ``data``'s)."""
    return api_as(user).post(
        "/api/upload-url",
        {"chatId": chat_id, "filename": filename, "contentType": content_type,
         "size": size if size is not None else max(len(data), 1)},
        format="json",
    )  # fmt: skip
