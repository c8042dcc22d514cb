"""Search reads one table whatever the store (chat.stores.textsearch): the GIN index on the ORM
store's messages goes, so a send no longer indexes its text."""

from django.db import migrations


def drop_message_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS messages_text_search")


def fill_search_entries(apps, schema_editor):
    # Messages stored before this release are found by search too.
    StoredMessage = apps.get_model("chat", "StoredMessage")
    SearchEntry = apps.get_model("chat", "SearchEntry")
    rows = StoredMessage.objects.filter(deleted=False, kind="text").exclude(body="")
    batch = []
    for row in rows.values_list("chat_id", "seq", "body", "timestamp").iterator(chunk_size=2000):
        batch.append(SearchEntry(chat_id=row[0], seq=row[1], body=row[2], timestamp=row[3]))
        if len(batch) == 2000:
            SearchEntry.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    SearchEntry.objects.bulk_create(batch, ignore_conflicts=True)


def create_message_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        from django.contrib.postgres.indexes import GinIndex

        from chat.stores.textsearch import search_vector

        model = apps.get_model("chat", "StoredMessage")
        schema_editor.add_index(model, GinIndex(search_vector(), name="messages_text_search"))


class Migration(migrations.Migration):
    dependencies = [("chat", "0009_replies_reactions_search")]

    operations = [
        migrations.RunPython(drop_message_index, create_message_index),
        migrations.RunPython(fill_search_entries, migrations.RunPython.noop),
    ]
