"""Delete uploads that were never attached to a message (and refused ones), with their files,
and make the pictures' previews still missing (their job was lost with a stopped process, or the
queue was full).

On S3 the bucket's lifecycle rule on ``uploads/`` deletes such files too; this also deletes
their rows, and is what keeps the local backend's disk clean. Run it daily (cron, a scheduled
task).
"""

import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone

from chat.media.thumbnails import thumbnails_pending_make
from chat.media.uploads import uploads_purge


class Command(BaseCommand):
    help = "Delete uploads never attached to a message, expired for more than --hours."

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=float, default=24.0)

    def handle(self, *args, hours, **options):
        purged = uploads_purge(older_than=timezone.now() - datetime.timedelta(hours=hours))
        self.stdout.write(f"{purged} uploads purged")
        made = thumbnails_pending_make(older_than=timezone.now() - datetime.timedelta(minutes=5))
        self.stdout.write(f"{made} missing previews made")
