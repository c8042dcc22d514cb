"""Rebuild the search index from the message store: after restoring a store from a backup, or
when a process was killed before writing its waiting entries (chat.stores.textsearch)."""

from django.core.management.base import BaseCommand

from chat.models import ChatRoom
from chat.stores import get_store
from chat.stores.textsearch import search_index

PAGE = 200


class Command(BaseCommand):
    help = "Rebuild the message search index from the store, chat by chat."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", required=True)

    def handle(self, *args, **options):
        store, index = get_store(), search_index()
        chats = messages = 0
        for chat_id in ChatRoom.objects.values_list("pk", flat=True).iterator():
            chat_id, after = str(chat_id), 0
            index.forget_chat(chat_id)
            while True:
                page = store.after(chat_id, after_seq=after, limit=PAGE)
                for message in page.messages:
                    index.put(message)
                messages += len(page.messages)
                if not page.messages or not page.has_more:
                    break
                after = page.messages[-1].seq
            index.flush()
            chats += 1
            if chats % 100 == 0:
                self.stdout.write(f"{chats} chats, {messages} messages")
        self.stdout.write(f"Indexed {messages} messages of {chats} chats")
