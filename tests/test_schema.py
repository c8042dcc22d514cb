"""The schema across releases."""

import pytest


@pytest.mark.django_db(transaction=True)
def test_rows_written_without_the_newer_columns_stay_valid():
    """The previous release (during a rolling deploy) and bulk SQL write messages and rooms
    without the columns added since: the database fills them in."""
    import uuid as uuid_module

    from django.db import connection

    from chat.models import ChatRoom, StoredMessage
    from chat.stores.orm import MessageStore

    chat_id = str(uuid_module.uuid4())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {StoredMessage._meta.db_table} (chat_id, seq, message_id, user_id, "
            "username, body, client_message_id, attachments, timestamp) "
            "VALUES (%s, 1, %s, '1', 'old', 'from the old release', 'k', '[]', 1)",
            [chat_id, str(uuid_module.uuid4())],
        )
        cursor.execute(
            f"INSERT INTO {ChatRoom._meta.db_table} (id, name, chat_type, created_at, "
            "last_activity) VALUES (%s, 'old room', 'group', %s, %s)",
            [uuid_module.uuid4().hex if connection.vendor == "sqlite" else str(uuid_module.uuid4()),
             "2026-01-01 00:00:00+00:00", "2026-01-01 00:00:00+00:00"],
        )  # fmt: skip
    (message,) = MessageStore().history(chat_id, limit=5).messages
    assert (message.body, message.deleted, message.kind) == ("from the old release", False, "text")
    room = ChatRoom.objects.get(name="old room")
    assert (room.locked, room.archived) == (False, False)
