"""Delete the message-store history of chats that no longer exist (their deletion could not
reach the store: it was down, say; the log names them)."""

from django.core.management.base import BaseCommand, CommandError

from chat.models import ChatRoom
from chat.realtime.protocol import canonical_chat_id
from chat.stores import get_store


class Command(BaseCommand):
    help = "Delete the stored messages of deleted chats, by chat id."

    def add_arguments(self, parser):
        parser.add_argument("chat_ids", nargs="+", metavar="CHAT_ID")

    def handle(self, *args, chat_ids, **options):
        store = get_store()
        for raw in chat_ids:
            chat_id = canonical_chat_id(raw)
            if chat_id is None:
                raise CommandError(f"{raw!r} is not a chat id.")
            if ChatRoom.objects.filter(pk=chat_id).exists():
                raise CommandError(f"Chat {chat_id} still exists: delete it in the admin.")
            deleted = store.chat_delete(chat_id)
            self.stdout.write(f"{chat_id}: {deleted} messages deleted")
