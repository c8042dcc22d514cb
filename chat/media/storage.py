"""Where chat files are stored: ``STORAGES["media"]`` (local disk, or S3 through
django-storages), and S3's presigned POST."""

import io

from django.conf import settings
from django.core.files.storage import storages

from chat.media.types import disposition


def media_storage():
    return storages["media"]


def s3_client():
    """The boto3 S3 client of the media storage (its endpoint, region and credentials)."""
    return media_storage().connection.meta.client


def media_put(key: str, data: bytes, *, content_type: str, filename: str) -> None:
    """Store a checked file at ``key``. On S3 the object carries its checked ``Content-Type``
    and ``Content-Disposition`` (the storage would guess the type from the key's name: a text
    file named ``x.html`` would be served as a page); the CDN adds the sandbox headers. On disk
    the local views send the same headers from the upload's row."""
    if settings.CHAT_MEDIA == "s3":
        s3_client().put_object(
            Bucket=settings.CHAT_MEDIA_BUCKET, Key=key, Body=data, ContentType=content_type,
            ContentDisposition=disposition(content_type, filename),
        )  # fmt: skip
    else:
        media_storage().save(key, io.BytesIO(data))


def presigned_post(*, key: str, content_type: str, max_bytes: int, expires_in: int):
    """A presigned POST for exactly ``key``: the declared Content-Type, at most ``max_bytes``,
    valid ``expires_in`` seconds. Returns ``(url, fields)``."""
    post = s3_client().generate_presigned_post(
        Bucket=settings.CHAT_MEDIA_BUCKET,
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=expires_in,
    )
    return post["url"], post["fields"]


def url_for(key: str, *, expires_in: int = 3600) -> str:
    """A browser URL of a stored file (S3): on the CDN when there is one (keys are unguessable),
    else a presigned GET of the private bucket."""
    if settings.CHAT_CDN_DOMAIN:
        return f"https://{settings.CHAT_CDN_DOMAIN}/{key}"
    return s3_client().generate_presigned_url(
        "get_object",
        Params={"Bucket": settings.CHAT_MEDIA_BUCKET, "Key": key},
        ExpiresIn=expires_in,
    )
