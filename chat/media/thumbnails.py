"""Pictures' previews, made off the send path with bounded memory.

A small file can hold a huge picture, and decoding one costs memory in proportion to its pixels,
not its bytes. So a send only reads a picture's header (its size, refused past
``IMAGE_MAX_PIXELS``), and its 480-pixel JPEG preview is made afterwards, by one worker thread
per process taking the pictures one at a time (``CHAT_THUMBNAIL_WORKERS``), from a queue of at
most ``CHAT_THUMBNAIL_QUEUE``. Decoding is bounded too: JPEGs are decoded at a reduced scale
(``draft``), other pictures reduced in place before any copy is made, so a picture costs about
its pixels x 4 bytes once. A preview not made yet is made when first asked for (the local
backend's view), or by ``manage.py purge_uploads`` (a queue that overflowed, a process that
stopped); pages retry a preview that is not there yet.
"""

import io
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, transaction
from PIL import Image, UnidentifiedImageError

logger = logging.getLogger(__name__)

SIZE = (480, 480)
# Pictures with more pixels are refused: decoding one costs about 4 bytes a pixel (160 MB at
# this cap), on instances of 2 GiB (docs/decisions.md).
IMAGE_MAX_PIXELS = 40_000_000
# Pillow refuses to open anything over twice its limit, and warns over it: the cap is checked
# before any decoding, so that its own check is only the last line.
Image.MAX_IMAGE_PIXELS = IMAGE_MAX_PIXELS


class Unreadable(Exception):
    """Not a picture Pillow can read."""


class TooLarge(Exception):
    """A picture of more than ``IMAGE_MAX_PIXELS`` pixels."""


def measure(data: bytes) -> tuple[int, int]:
    """A picture's width and height, from its header only (nothing is decoded)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise Unreadable() from None
    if width * height > IMAGE_MAX_PIXELS:
        raise TooLarge()
    return width, height


def render(data: bytes) -> bytes:
    """The picture's preview: a JPEG of at most ``SIZE``. Decodes it once (JPEGs at a reduced
    scale) and makes no full-size copy: reduced by whole factors first (by sampling where
    Pillow's filters would copy the picture to premultiply alpha or expand a palette)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > IMAGE_MAX_PIXELS:
                raise TooLarge()
            image.draft("RGB", SIZE)
            image.load()
            width, height = image.size
            factor = max(1, min(width // (2 * SIZE[0]), height // (2 * SIZE[1])))
            if factor > 1:
                if image.mode in {"RGB", "L"}:
                    image = image.reduce(factor)
                else:
                    small = (max(1, width // factor), max(1, height // factor))
                    image = image.resize(small, Image.Resampling.NEAREST)
            if image.mode not in {"RGB", "L"}:
                image = image.convert("RGBA" if image.mode in {"RGBA", "LA", "PA", "P"} else "RGB")
            image.thumbnail(SIZE)
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=80)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise Unreadable() from None


def thumbnail_make(upload_id) -> bool:
    """Make an attached picture's preview and mark it made; False when it cannot be (the
    upload is gone, or the picture unreadable: its page shows a file link)."""
    from chat.media.storage import media_put, media_storage
    from chat.models import Upload

    upload = Upload.objects.filter(pk=upload_id, state=Upload.State.ATTACHED).first()
    if upload is None or not upload.thumbnail_key:
        return False
    if upload.thumbnail_ready:
        return True
    with media_storage().open(upload.key, "rb") as stored:
        data = stored.read()
    try:
        preview = render(data)
    except (Unreadable, TooLarge):
        logger.warning("Picture %s cannot be previewed", upload.pk)
        return False
    media_put(
        upload.thumbnail_key, preview, content_type="image/jpeg",
        filename=upload.name.rsplit(".", 1)[0] + " (preview).jpg",
    )  # fmt: skip
    Upload.objects.filter(pk=upload.pk).update(thumbnail_ready=True)
    return True


class _Worker:
    """The process's preview makers: ``CHAT_THUMBNAIL_WORKERS`` threads, at most
    ``CHAT_THUMBNAIL_QUEUE`` pictures waiting; one job per picture however often asked."""

    def __init__(self):
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._jobs: dict[str, Future] = {}

    def submit(self, upload_id) -> Future | None:
        """The picture's job (queued now, or already); None when the queue is full."""
        key = str(upload_id)
        with self._lock:
            if key in self._jobs:
                return self._jobs[key]
            if len(self._jobs) >= settings.CHAT_THUMBNAIL_QUEUE:
                logger.warning("Preview queue full: %s waits for the next sweep", key)
                return None
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    settings.CHAT_THUMBNAIL_WORKERS, thread_name_prefix="chat-thumbnail"
                )
            job = self._executor.submit(self._run, key)
            self._jobs[key] = job
            return job

    def _run(self, key: str) -> bool:
        close_old_connections()
        try:
            return thumbnail_make(key)
        except Exception:
            logger.exception("Preview of %s failed", key)
            return False
        finally:
            close_old_connections()
            with self._lock:
                self._jobs.pop(key, None)

    def wait_idle(self, timeout: float = 30) -> None:
        """Wait until no job is queued or running (tests, and a process shutting down)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.result(timeout)


worker = _Worker()


def thumbnails_later(upload_ids) -> None:
    """Queue these attached pictures' previews once the transaction attaching them commits."""
    ids = [str(upload_id) for upload_id in upload_ids]
    if ids:
        transaction.on_commit(lambda: [worker.submit(upload_id) for upload_id in ids])


def thumbnail_ensure(upload_id, *, timeout: float) -> bool:
    """Whether the picture's preview is made, making it now (through the queue) if it is not
    and waiting at most ``timeout`` seconds."""
    job = worker.submit(upload_id)
    if job is None:
        return False
    try:
        return job.result(timeout)
    except TimeoutError:
        return False


def thumbnails_pending_make(*, older_than) -> int:
    """Make the previews still missing of pictures attached before ``older_than`` (their job
    was lost or never queued); how many were made."""
    from chat.models import Upload

    pending = Upload.objects.filter(
        state=Upload.State.ATTACHED, thumbnail_ready=False, created_at__lt=older_than
    ).exclude(thumbnail_key="")
    return sum(thumbnail_make(upload_id) for upload_id in pending.values_list("pk", flat=True))
