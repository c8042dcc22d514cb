"""Uploads: handing out upload URLs, receiving local uploads, and checking a file when a message
attaches it."""

import datetime
import logging
import re
import unicodedata
import uuid
from dataclasses import dataclass

import filetype
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from chat import errors
from chat.media import thumbnails
from chat.media.storage import media_put, media_storage, presigned_post
from chat.media.types import is_active
from chat.models import ChatRoom, Upload
from chat.text import is_plain_line, is_storable

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = 255
SNIFF_BYTES = 8192
TOKEN_SALT = "chat.media.upload"


def _invalid(detail: str, code: str) -> errors.InvalidInput:
    return errors.InvalidInput(detail, code=code)


def valid_filename(name: str) -> str:
    """The file's name as people will see it, or ``InvalidInput`` (``invalid_filename``): a
    name, not a path; no control or direction-changing characters; at most 255 characters."""
    if not isinstance(name, str) or not name.strip():
        raise _invalid("The file needs a name.", "invalid_filename")
    name = unicodedata.normalize("NFC", name.strip())
    if len(name) > NAME_MAX_LENGTH:
        raise _invalid(
            f"File names are limited to {NAME_MAX_LENGTH} characters.", "invalid_filename"
        )
    if not is_storable(name) or not is_plain_line(name):
        raise _invalid(
            "The file name holds a control or text-direction character.", "invalid_filename"
        )
    if "/" in name or "\\" in name or name in {".", ".."}:
        raise _invalid("A file name cannot be a path.", "invalid_filename")
    return name


def _key_name(name: str) -> str:
    # The name in storage keys and URLs: ASCII letters, digits, dot, dash and underscore.
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name).strip("._") or "file"
    return safe[-100:]


def quarantine_key(chat_id: str, attachment_id: str, name: str) -> str:
    return f"uploads/{chat_id}/{attachment_id}/{_key_name(name)}"


def media_key(chat_id: str, attachment_id: str, name: str) -> str:
    return f"media/{chat_id}/{attachment_id}/{_key_name(name)}"


@dataclass(frozen=True)
class UploadTicket:
    """Where and until when the browser may send one file (``payloads.upload_ticket_payload``)."""

    attachment_id: str
    url: str
    fields: dict
    expires_at: datetime.datetime
    max_bytes: int


def upload_start(
    *, chat: ChatRoom, user, filename: str, content_type: str, size: int
) -> UploadTicket:
    """An upload URL for one file to ``chat`` (the caller checked that ``user`` may send to it):
    the browser POSTs ``fields`` and then the file to ``url`` before ``expires_at``."""
    name = valid_filename(filename)
    if content_type not in settings.CHAT_UPLOAD_TYPES or is_active(content_type):
        raise _invalid(
            f"Files of type {content_type!r} cannot be sent; allowed: "
            f"{', '.join(settings.CHAT_UPLOAD_TYPES)}.",
            "type_not_allowed",
        )
    most = settings.CHAT_UPLOAD_MAX_BYTES
    if not 0 < size <= most:
        raise _invalid(f"Files are limited to {most} bytes.", "too_big")
    attachment_id = str(uuid.uuid4())
    key = quarantine_key(str(chat.pk), attachment_id, name)
    expires_at = timezone.now() + datetime.timedelta(seconds=settings.CHAT_UPLOAD_EXPIRES)
    Upload.objects.create(
        id=attachment_id, chat=chat, uploader=user, name=name, content_type=content_type,
        declared_size=size, key=key, expires_at=expires_at,
    )  # fmt: skip
    if settings.CHAT_MEDIA == "s3":
        url, fields = presigned_post(
            key=key, content_type=content_type, max_bytes=most,
            expires_in=settings.CHAT_UPLOAD_EXPIRES,
        )  # fmt: skip
    else:
        url = reverse("chat:upload", args=[attachment_id])
        token = signing.dumps({"id": attachment_id, "user": str(user.pk)}, salt=TOKEN_SALT)
        fields = {"token": token, "Content-Type": content_type}
    return UploadTicket(
        attachment_id=attachment_id, url=url, fields=fields, expires_at=expires_at, max_bytes=most
    )


def upload_receive(*, attachment_id: str, user, token: str, content_type: str, file) -> None:
    """Store a local upload, as S3 stores a presigned POST: the token must be this upload's and
    this user's and unexpired, the Content-Type the declared one, the file within the limit."""
    try:
        claims = signing.loads(token, salt=TOKEN_SALT, max_age=settings.CHAT_UPLOAD_EXPIRES)
    except signing.BadSignature:
        raise _invalid("This upload URL is invalid or has expired.", "upload_expired") from None
    if claims != {"id": attachment_id, "user": str(user.pk)}:
        raise _invalid("This upload URL is not for this file or user.", "upload_expired")
    upload = Upload.objects.filter(pk=attachment_id, state=Upload.State.PENDING).first()
    if upload is None:
        raise _invalid("This upload URL is invalid or has expired.", "upload_expired")
    if content_type != upload.content_type:
        raise _invalid("The Content-Type is not the one declared.", "type_mismatch")
    if file is None or not 0 < file.size <= settings.CHAT_UPLOAD_MAX_BYTES:
        raise _invalid(f"Files are limited to {settings.CHAT_UPLOAD_MAX_BYTES} bytes.", "too_big")
    storage = media_storage()
    if storage.exists(upload.key):
        storage.delete(upload.key)
    storage.save(upload.key, file)


def _sniffed_as(head: bytes, content_type: str) -> bool:
    """Whether the file's first bytes are of ``content_type``."""
    if content_type == "text/plain":
        if b"\x00" in head or filetype.guess(head) is not None:
            return False
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            return exc.start >= len(head) - 3  # only a character cut at the end of the sample
        return True
    return filetype.guess_mime(head) == content_type


def _refuse(upload: Upload, detail: str, code: str) -> errors.InvalidInput:
    upload.state = Upload.State.REFUSED
    upload.save(update_fields=["state"])
    try:
        media_storage().delete(upload.key)
    except Exception:
        logger.warning("Could not delete refused upload %s", upload.key, exc_info=True)
    return _invalid(f"{upload.name}: {detail}", code)


def _check_and_publish(upload: Upload) -> None:
    """Read what was uploaded, check it, move it out of quarantine (and make a thumbnail)."""
    storage = media_storage()
    if not storage.exists(upload.key):
        raise _invalid(f"{upload.name} was not uploaded (or its upload failed).", "not_uploaded")
    size = storage.size(upload.key)
    if not 0 < size <= settings.CHAT_UPLOAD_MAX_BYTES:
        raise _refuse(
            upload, f"files are limited to {settings.CHAT_UPLOAD_MAX_BYTES} bytes.", "too_big"
        )
    with storage.open(upload.key, "rb") as stored:
        data = stored.read()
    if len(data) != size or not _sniffed_as(data[:SNIFF_BYTES], upload.content_type):
        raise _refuse(
            upload, f"the file is not what it says it is ({upload.content_type}).",
            "type_mismatch",
        )  # fmt: skip
    final_key = media_key(str(upload.chat_id), str(upload.pk), upload.name)
    if upload.content_type.startswith("image/"):
        # Measured from the header only; the preview is made after the send (thumbnails).
        try:
            upload.width, upload.height = thumbnails.measure(data)
        except thumbnails.TooLarge:
            raise _refuse(upload, "the image is too large to show.", "image_too_large") from None
        except thumbnails.Unreadable:
            raise _refuse(upload, "the image cannot be read.", "type_mismatch") from None
        # A name no file can have (stored names never start with a dot).
        upload.thumbnail_key = final_key.rsplit("/", 1)[0] + "/.preview.jpg"
        upload.thumbnail_ready = False
    media_put(final_key, data, content_type=upload.content_type, filename=upload.name)
    storage.delete(upload.key)
    upload.key, upload.size, upload.state = final_key, size, Upload.State.ATTACHED


def descriptor(upload: Upload) -> dict:
    """What a message stores of an attached file (URLs are made when it is shown)."""
    described = {
        "id": str(upload.pk),
        "name": upload.name,
        "contentType": upload.content_type,
        "size": upload.size,
        "key": upload.key,
    }
    if upload.thumbnail_key:
        described.update(
            thumbnailKey=upload.thumbnail_key, width=upload.width, height=upload.height
        )
    return described


def attachments_claim(
    *, attachment_ids, chat_id: str, user_id: str, client_message_id: str
) -> tuple[dict, ...]:
    """Check the files a message attaches and take them out of quarantine: each uploaded by
    this sender for this chat, unexpired and unused (or used by this very message: a retried
    send), present, within the size limit, of the type declared. Their descriptors, in order;
    ``InvalidInput`` for the first that fails."""
    if not isinstance(attachment_ids, list | tuple) or not all(
        isinstance(a, str) for a in attachment_ids
    ):
        raise _invalid("'attachments' must be a list of attachment ids.", "invalid_field")
    most = settings.CHAT_ATTACHMENTS_PER_MESSAGE
    if len(attachment_ids) > most:
        raise _invalid(f"A message has at most {most} attachments.", "invalid_field")
    if len(set(attachment_ids)) != len(attachment_ids):
        raise _invalid("An attachment is listed twice.", "invalid_field")
    ids = []
    for raw in attachment_ids:
        try:
            ids.append(str(uuid.UUID(raw)) if len(raw) <= 64 else None)
        except ValueError:
            ids.append(None)
    unknown = _invalid(
        "Unknown or expired attachment; upload the file again.", "invalid_attachment"
    )
    if None in ids:
        raise unknown
    described, pictures = [], []
    with transaction.atomic():
        found = {
            str(u.pk): u for u in Upload.objects.select_for_update().filter(pk__in=ids)
        }  # fmt: skip
        for attachment_id in ids:
            upload = found.get(attachment_id)
            if (
                upload is None
                or str(upload.uploader_id) != user_id
                or str(upload.chat_id) != chat_id
                or upload.state == Upload.State.REFUSED
            ):
                raise unknown
            if upload.state == Upload.State.ATTACHED:
                if upload.client_message_id != client_message_id:
                    raise _invalid(
                        f"{upload.name} was already sent; upload it again to send it again.",
                        "attachment_used",
                    )
                described.append(descriptor(upload))  # the same message, sent again
                continue
            if upload.expires_at < timezone.now() - datetime.timedelta(
                seconds=settings.CHAT_UPLOAD_EXPIRES
            ):
                raise _invalid(f"{upload.name}: the upload has expired.", "upload_expired")
            _check_and_publish(upload)
            upload.client_message_id = client_message_id
            upload.save()
            described.append(descriptor(upload))
            if upload.thumbnail_key:
                pictures.append((upload.pk, upload.uploader_id))
        thumbnails.thumbnails_later(pictures)
    return tuple(described)


def uploads_purge(*, older_than: datetime.datetime) -> int:
    """Delete uploads never attached (and refused ones) that expired before ``older_than``,
    their stored files too; how many."""
    storage = media_storage()
    stale = Upload.objects.filter(expires_at__lt=older_than).exclude(state=Upload.State.ATTACHED)
    purged = 0
    for upload in stale.iterator():
        try:
            storage.delete(upload.key)
        except Exception:
            logger.warning("Could not delete %s; the row stays for the next purge", upload.key)
            continue
        upload.delete()
        purged += 1
    return purged
