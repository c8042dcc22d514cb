"""Pictures' previews, made off the send path with bounded memory.

A small file can hold a huge picture, and decoding one costs memory in proportion to its
pixels, not its bytes. So a send only reads a picture's header (its size, refused past
``IMAGE_MAX_PIXELS``, 10 million for WebP), and its 480-pixel JPEG preview is made afterwards,
by one worker thread per process (``CHAT_THUMBNAIL_WORKERS``) taking the pictures one at a time
from a queue of at most ``CHAT_THUMBNAIL_QUEUE``. Decoding is bounded too: JPEGs are decoded at
a reduced scale (``draft``), other pictures reduced before any copy is made, so a picture costs
about its pixels x 4 bytes once. A preview not made yet is made when first asked for (the
/media/ view, on either backend, waits for it through the queue), or by the sweep (a queue that
overflowed, a process that stopped); pages retry a preview that is not there yet. A picture
that cannot be previewed is marked so once and shown by its name.
"""

import contextlib
import io
import logging
import queue
import threading
from concurrent.futures import Future

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


# WebP's decoder allocates several buffers of the whole picture (several times what the same
# picture takes as a PNG: docs/decisions.md), so WebP pictures have a cap of their own.
FORMAT_MAX_PIXELS = {"WEBP": 10_000_000}


def max_pixels(image_format: str | None) -> int:
    """The most pixels a picture of ``image_format`` (Pillow's name) may have."""
    return FORMAT_MAX_PIXELS.get(image_format or "", IMAGE_MAX_PIXELS)


class Unreadable(Exception):
    """Not a picture Pillow can read."""


class TooLarge(Exception):
    """A picture of more than ``IMAGE_MAX_PIXELS`` pixels."""


@contextlib.contextmanager
def _opened(data: bytes):
    """The picture, opened from its header (nothing decoded yet): ``TooLarge`` past its
    format's cap, ``Unreadable`` for what Pillow cannot read, there or inside the block."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > max_pixels(image.format):
                raise TooLarge()
            yield image
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise Unreadable() from None


def measure(data: bytes) -> tuple[int, int]:
    """A picture's width and height, from its header only (nothing is decoded)."""
    with _opened(data) as image:
        return image.size


def render(data: bytes) -> bytes:
    """The picture's preview: a JPEG of at most ``SIZE``. Decodes it once (JPEGs at a reduced
    scale) and makes no full-size copy: reduced by whole factors first (by sampling where
    Pillow's filters would copy the picture to premultiply alpha or expand a palette)."""
    with _opened(data) as image:
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
        # Never tried again: its page shows the picture's name, which opens the file.
        logger.warning("Picture %s cannot be previewed", upload.pk)
        Upload.objects.filter(pk=upload.pk).update(thumbnail_key="")
        return False
    media_put(
        upload.thumbnail_key, preview, content_type="image/jpeg",
        filename=upload.name.rsplit(".", 1)[0] + " (preview).jpg",
    )  # fmt: skip
    Upload.objects.filter(pk=upload.pk).update(thumbnail_ready=True)
    return True


class _Worker:
    """The process's preview makers: ``CHAT_THUMBNAIL_WORKERS`` daemon threads (a process that
    stops leaves its queue to the sweep rather than finishing it first), at most
    ``CHAT_THUMBNAIL_QUEUE`` pictures waiting, one job per picture however often asked."""

    def __init__(self):
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[str, Future]] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._jobs: dict[str, Future] = {}
        self._owners: dict[str, str] = {}  # job -> who sent the picture

    def submit(self, upload_id, *, owner: str = "") -> Future | None:
        """The picture's job (queued now, or already); None when the queue is full, or when
        ``owner`` (who sent it) has a tenth of the queue waiting already: one sender cannot
        hold everyone's previews back (theirs come on first fetch or from the sweep)."""
        key = str(upload_id)
        with self._lock:
            if key in self._jobs:
                return self._jobs[key]
            if len(self._jobs) >= settings.CHAT_THUMBNAIL_QUEUE:
                logger.warning("Preview queue full: %s waits for the next sweep", key)
                return None
            share = max(1, settings.CHAT_THUMBNAIL_QUEUE // 10)
            if owner and sum(o == owner for o in self._owners.values()) >= share:
                logger.info("Sender %s has %d previews waiting: %s comes later", owner, share, key)
                return None
            if owner:
                self._owners[key] = owner
            while len(self._threads) < settings.CHAT_THUMBNAIL_WORKERS:
                thread = threading.Thread(target=self._serve, name="chat-thumbnail", daemon=True)
                thread.start()
                self._threads.append(thread)
            job = self._jobs[key] = Future()
            self._queue.put((key, job))
            return job

    def _serve(self) -> None:
        while True:
            key, job = self._queue.get()
            close_old_connections()
            try:
                job.set_result(thumbnail_make(key))
            except Exception as exc:
                logger.exception("Preview of %s failed", key)
                job.set_exception(exc)
            finally:
                close_old_connections()
                with self._lock:
                    self._jobs.pop(key, None)
                    self._owners.pop(key, None)

    def wait_idle(self, timeout: float = 30) -> None:
        """Wait until no job is queued or running (tests)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.exception(timeout)


worker = _Worker()


def thumbnails_later(pictures) -> None:
    """Queue these attached pictures' previews (``(upload id, sender id)`` pairs) once the
    transaction attaching them commits."""
    jobs = [(str(upload_id), str(owner)) for upload_id, owner in pictures]
    if jobs:
        transaction.on_commit(lambda: [worker.submit(u, owner=o) for u, o in jobs])


def thumbnail_ensure(upload_id, *, timeout: float) -> bool:
    """Whether the picture's preview is made, making it now (through the queue) if it is not
    and waiting at most ``timeout`` seconds."""
    job = worker.submit(upload_id)
    if job is None:
        return False
    try:
        return job.result(timeout)
    except Exception:  # not in time, or failed (logged)
        return False


def thumbnails_pending_make(*, older_than) -> int:
    """Make the previews still missing of pictures attached before ``older_than`` (their job
    was lost or never queued); how many were made."""
    from chat.models import Upload

    pending = Upload.objects.filter(
        state=Upload.State.ATTACHED, thumbnail_ready=False, created_at__lt=older_than
    ).exclude(thumbnail_key="")
    # Through the queue, one at a time, as every other preview of the process.
    return sum(
        thumbnail_ensure(upload_id, timeout=60)
        for upload_id in pending.values_list("pk", flat=True).iterator()
    )
