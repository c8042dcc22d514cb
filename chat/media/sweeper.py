"""The server process's periodic clean-up of files: uploads never attached to a message (rows
and files, on either backend; S3's lifecycle rule also expires their objects) and pictures'
previews whose job was lost. Every ``CHAT_UPLOAD_SWEEP_SECONDS`` (0: never; then run
``manage.py purge_uploads`` from a scheduler), starting at a random point of the first interval
so that a fleet's processes do not sweep together. Two processes sweeping at once is harmless:
deleting what is gone and making a preview twice change nothing.
"""

import datetime
import logging
import random
import threading

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from chat.media.thumbnails import thumbnails_pending_make
from chat.media.uploads import uploads_purge

logger = logging.getLogger(__name__)

# Unattached uploads are deleted this long after their upload URL expired (S3's lifecycle rule
# on uploads/ expires the objects after a day too).
PURGE_AFTER = datetime.timedelta(hours=24)
# Previews missing this long after their picture was attached are made by the sweep.
PREVIEW_GRACE = datetime.timedelta(minutes=5)


def sweep() -> tuple[int, int]:
    """One sweep: the uploads purged and the missing previews made."""
    close_old_connections()
    try:
        now = timezone.now()
        purged = uploads_purge(older_than=now - PURGE_AFTER)
        made = thumbnails_pending_make(older_than=now - PREVIEW_GRACE)
    finally:
        close_old_connections()
    if purged or made:
        logger.info("Swept files: %d unattached uploads purged, %d missing previews made",
                    purged, made)  # fmt: skip
    return purged, made


class Sweeper:
    def __init__(self, interval: float):
        self.interval = interval
        self.stopped = threading.Event()

    def _run(self) -> None:
        delay = random.uniform(0, self.interval)
        while not self.stopped.wait(delay):
            try:
                sweep()
            except Exception:
                logger.exception("File sweep failed; trying again at the next one")
            delay = self.interval

    def start(self) -> "Sweeper":
        threading.Thread(target=self._run, name="chat-file-sweeper", daemon=True).start()
        return self


_started: Sweeper | None = None
_lock = threading.Lock()


def start_sweeper() -> Sweeper | None:
    """Start the process's sweeper once (None when ``CHAT_UPLOAD_SWEEP_SECONDS`` is 0)."""
    global _started
    with _lock:
        if _started is None and settings.CHAT_UPLOAD_SWEEP_SECONDS > 0:
            _started = Sweeper(settings.CHAT_UPLOAD_SWEEP_SECONDS).start()
        return _started
