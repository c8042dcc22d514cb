"""Where chat files are stored: ``STORAGES["media"]`` (local disk, or S3 through
django-storages), and S3's presigned POST."""

import datetime
import functools
import io
import time

from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages

from chat.media.types import disposition, served_type


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


def media_retype(key: str, *, content_type: str, filename: str) -> None:
    """Set a stored S3 object's type and disposition again (copied onto itself): the checked
    type, or a download of no type for one a browser would run."""
    content_type = served_type(content_type)
    s3_client().copy_object(
        Bucket=settings.CHAT_MEDIA_BUCKET, Key=key, MetadataDirective="REPLACE",
        CopySource={"Bucket": settings.CHAT_MEDIA_BUCKET, "Key": key},
        ContentType=content_type, ContentDisposition=disposition(content_type, filename),
    )  # fmt: skip


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


def url_reuse_seconds() -> int:
    """How long a file's URL stays the same (a third of ``CHAT_MEDIA_URL_SECONDS``): browsers
    may reuse it that long, and it is then still valid for two thirds of its life."""
    return max(1, settings.CHAT_MEDIA_URL_SECONDS // 3)


def _expiry(now: float) -> int:
    """When a URL made at ``now`` expires: within ``CHAT_MEDIA_URL_SECONDS``, and the same for
    every URL of a file made in the same ``url_reuse_seconds``."""
    step = url_reuse_seconds()
    return int(now // step) * step + settings.CHAT_MEDIA_URL_SECONDS


@functools.cache
def _cdn_signer(key_id: str, private_key_pem: str) -> CloudFrontSigner:
    private_key = serialization.load_pem_private_key(
        private_key_pem.replace("\\n", "\n").encode(), password=None
    )

    def rsa_signer(message: bytes) -> bytes:
        return private_key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # CloudFront's

    return CloudFrontSigner(key_id, rsa_signer)


def url_for(key: str) -> str:
    """A short-lived browser URL of a stored file (S3), valid at most
    ``CHAT_MEDIA_URL_SECONDS`` (15 minutes): on the CDN, signed with the stage's key (the
    distribution trusts only its key group), else a presigned GET of the private bucket. The
    app's /media/ views hand these out to members only, on each fetch."""
    if settings.CHAT_CDN_DOMAIN:
        if not (settings.CHAT_CDN_KEY_ID and settings.CHAT_CDN_PRIVATE_KEY):
            raise ImproperlyConfigured(
                "CHAT_CDN_DOMAIN serves media only through signed URLs: set CHAT_CDN_KEY_ID "
                "and CHAT_CDN_PRIVATE_KEY."
            )
        signer = _cdn_signer(settings.CHAT_CDN_KEY_ID, settings.CHAT_CDN_PRIVATE_KEY)
        expires = datetime.datetime.fromtimestamp(_expiry(time.time()), tz=datetime.UTC)
        return signer.generate_presigned_url(
            f"https://{settings.CHAT_CDN_DOMAIN}/{key}", date_less_than=expires
        )
    return s3_client().generate_presigned_url(
        "get_object",
        Params={"Bucket": settings.CHAT_MEDIA_BUCKET, "Key": key},
        ExpiresIn=settings.CHAT_MEDIA_URL_SECONDS,
    )
