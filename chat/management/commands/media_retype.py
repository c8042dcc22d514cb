"""Set the stored type and disposition of every checked file on S3 again, from its row.

Files stored before the app set them explicitly carry the type S3 storage guessed from their
names (a text file named ``x.js`` is ``text/javascript``). Run once after upgrading; running it
again changes nothing. The local backend needs nothing: its views send the types from the rows.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chat.media.storage import media_retype
from chat.models import Upload


class Command(BaseCommand):
    help = "Set every S3 file's Content-Type and Content-Disposition from its checked type."

    def handle(self, *args, **options):
        if settings.CHAT_MEDIA != "s3":
            raise CommandError("Only files on S3 (CHAT_MEDIA=s3) carry their own types.")
        done = 0
        attached = Upload.objects.filter(state=Upload.State.ATTACHED)
        for upload in attached.iterator():
            media_retype(upload.key, content_type=upload.content_type, filename=upload.name)
            if upload.thumbnail_key and upload.thumbnail_ready:
                media_retype(upload.thumbnail_key, content_type="image/jpeg",
                             filename=upload.name.rsplit(".", 1)[0] + " (preview).jpg")  # fmt: skip
            done += 1
        self.stdout.write(f"{done} files retyped")
