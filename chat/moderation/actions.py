"""Moderators' actions (Django admin calls these; each change sends its own notices), and the
clean-up after a chat is deleted."""

import logging

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from chat.media.storage import media_storage
from chat.models import Reaction, Upload
from chat.realtime import events
from chat.stores import get_store

logger = logging.getLogger(__name__)


def history_delete(chat_id: str) -> int:
    """Delete a deleted chat's messages from the message store; logged loudly if it fails
    (``manage.py delete_chat_history`` deletes them later)."""
    try:
        deleted = get_store().chat_delete(chat_id)
    except Exception:
        logger.exception(
            "The history of deleted chat %s is still in the message store; delete it with "
            "`manage.py delete_chat_history %s`", chat_id, chat_id,
        )  # fmt: skip
        return 0
    logger.info("Deleted chat %s: %d messages deleted from the message store", chat_id, deleted)
    return deleted


def message_remove(*, chat_id: str, seq: int, original=None):
    """Make a message a tombstone (text and attachments erased, its place kept), delete its
    files, and tell the chat's open pages (``messageDeleted``); the tombstone, or None if there
    is no such message. ``original``: the message, if the caller has read it already."""
    store = get_store()
    if original is None:
        original = store.messages_at(chat_id, [seq]).get(seq)
    message = store.message_delete(chat_id, seq)
    if message is not None:
        Reaction.objects.filter(chat_id=chat_id, seq=seq).delete()
        attachments = original.attachments if original is not None else ()
        files_delete(
            [key for a in attachments for key in (a.get("key"), a.get("thumbnailKey")) if key]
        )
        Upload.objects.filter(pk__in=[a.get("id") for a in attachments if a.get("id")]).delete()
        events.message_deleted(message)
    return message


def files_delete(keys: list[str]) -> None:
    """Delete stored files (a deleted message's or room's); a failure is logged with the keys."""
    storage = media_storage()
    for key in keys:
        try:
            storage.delete(key)
        except Exception:
            logger.exception("Could not delete the file %s; delete it by hand", key)


@events.announcing
def user_ban(user) -> int:
    """Deactivate the user and end every session of theirs (their sockets close with 4403);
    returns how many sessions were ended."""
    ended = 0
    user_id = str(user.pk)
    with transaction.atomic():  # the notice goes once it is all done
        user.is_active = False
        user.save(update_fields=["is_active"])
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
            if str(session.get_decoded().get(SESSION_KEY)) == user_id:
                session.delete()
                ended += 1
        events.user_changed(user_id)  # their sockets find the user inactive and close
    return ended
