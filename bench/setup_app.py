"""Prepare the chat app for a benchmark (run with the server's environment).

    python -m bench.setup_app chats R M        -> JSON: [{"chatId", "sessions": [...]}, ...]
    python -m bench.setup_app history N        -> JSON: {"chatId", "session"} of a chat of N

Users get no password (they cannot log in by form); each gets a session made directly, as a
login would make it, so that setting up thousands of members takes seconds.
"""

import json
import os
import sys
import uuid

import django


def _session_for(user) -> str:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils.module_loading import import_string

    session = import_string(settings.SESSION_ENGINE + ".SessionStore")()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def _users(count: int):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    prefix = uuid.uuid4().hex[:6]
    users = [User(username=f"bench-{prefix}-{n}") for n in range(count)]
    for user in users:
        user.set_unusable_password()
    User.objects.bulk_create(users, batch_size=1000)
    return list(User.objects.filter(username__startswith=f"bench-{prefix}-").order_by("pk"))


def chats(rooms: int, members: int) -> list[dict]:
    from chat import services

    users = _users(rooms * members)
    made = []
    for r in range(rooms):
        group = users[r * members : (r + 1) * members]
        chat, _ = services.chat_create(
            creator=group[0],
            chat_type="direct" if members == 2 else "group",
            participants=group[1:],
            name="" if members == 2 else f"bench {r}",
        )
        made.append({"chatId": str(chat.pk), "sessions": [_session_for(u) for u in group]})
    return made


def history(count: int) -> dict:
    """A chat of two whose ORM store holds ``count`` messages (bulk SQL, seconds per million)."""
    from django.db import connection, transaction

    from chat.models import ChatSequence, StoredMessage

    (result,) = chats(1, 2)
    chat_id = result["chatId"]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {StoredMessage._meta.db_table} "
            "(chat_id, seq, message_id, user_id, username, body, client_message_id, "
            "attachments, timestamp) "
            "SELECT %s, n, md5(%s || n::text), '1', 'bench', 'history message ' || n, "
            "'h' || n, '[]', 1700000000000 + n FROM generate_series(1, %s) AS n",
            [chat_id, chat_id, count],
        )
        ChatSequence.objects.update_or_create(chat_id=chat_id, defaults={"last_seq": count})
        cursor.execute(f"ANALYZE {StoredMessage._meta.db_table}")
    return {"chatId": chat_id, "session": result["sessions"][0]}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    django.setup()
    command, *args = sys.argv[1:]
    if command == "chats":
        print(json.dumps(chats(int(args[0]), int(args[1]))))
    elif command == "history":
        print(json.dumps(history(int(args[0]))))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
