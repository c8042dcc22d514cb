"""Moderation that reaches open sockets, whatever made the change.

Staff change users, memberships and rooms in Django admin, people log out and change their
passwords in the pages, scripts use the shell. Each such change is a model change, so the
notices to sockets (``chat.moderation.notices``) are sent from model signals, after the change
commits, instead of from each place that can make it:

- a session ended (logout, deleted) or an API token revoked -> ``sessionEnded``: its sockets
  close with 4401;
- a user saved (password, active flag, ...) or deleted -> ``userChanged``: their sockets
  re-read their session and close with 4401 (session no longer valid) or 4403 (deactivated);
- a membership deleted -> ``membershipRemoved``: her sockets leave the chat and get
  ``removed``; every later frame for it is refused;
- a membership saved new one by one (staff adding someone in admin, the shell) ->
  ``membershipAdded``: her chat lists show the chat (the services make memberships in bulk and
  announce them themselves, so nothing is announced twice);
- a room saved -> ``chatChanged``: sockets that use it learn whether it is now read-only
  (locked or archived) and joined ones get ``chatUpdated``;
- a room deleted -> ``chatDeleted`` to its members' sockets, and its history (messages and
  counter) is deleted from the message store once the deletion commits.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete

from chat.models import ApiToken, ChatRoom, Membership
from chat.moderation.actions import files_delete, history_delete
from chat.moderation.notices import notify, session_tag


def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        notify("sessionEnded", session=session_tag(request.session.session_key))


def _session_deleted(sender, instance, **kwargs):
    notify("sessionEnded", session=session_tag(instance.session_key))


def _token_deleted(sender, instance, **kwargs):
    notify("sessionEnded", session=session_tag(f"token:{instance.pk}"))


def _user_saved(sender, instance, created, update_fields=None, **kwargs):
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return  # a new user has no sockets; a log-in changes nothing they hold
    notify("userChanged", userId=str(instance.pk))


def _user_deleted(sender, instance, **kwargs):
    notify("userChanged", userId=str(instance.pk))


def _membership_saved(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        chat = instance.chat
        notify(
            "membershipAdded", chatId=str(chat.pk), members=[str(instance.user_id)],
            chatName=chat.name, chatType=chat.chat_type,
        )  # fmt: skip


def _membership_deleted(sender, instance, **kwargs):
    notify("membershipRemoved", chatId=str(instance.chat_id), userId=str(instance.user_id))


def _chat_saved(sender, instance, created, **kwargs):
    if not created:
        notify(
            "chatChanged", chatId=str(instance.pk), locked=instance.locked,
            archived=instance.archived, chatName=instance.name,
        )  # fmt: skip


def _chat_deleting(sender, instance, **kwargs):
    # Its memberships are deleted with it: who was in it is read before.
    instance.member_ids_when_deleted = [
        str(user_id) for user_id in instance.memberships.values_list("user_id", flat=True)
    ]
    # Its uploads' rows go with it too; their files are deleted once the deletion commits.
    instance.files_when_deleted = [
        key
        for upload in instance.uploads.all()
        for key in (upload.key, upload.thumbnail_key)
        if key
    ]


def _chat_deleted(sender, instance, **kwargs):
    chat_id = str(instance.pk)
    members = getattr(instance, "member_ids_when_deleted", [])
    files = getattr(instance, "files_when_deleted", [])
    notify("chatDeleted", chatId=chat_id, members=members)
    transaction.on_commit(lambda: (history_delete(chat_id), files_delete(files)))


def connect_signals() -> None:
    """Called once, when the app is ready."""
    User = get_user_model()
    user_logged_out.connect(_logged_out, dispatch_uid="chat-logged-out")
    post_delete.connect(_session_deleted, sender=Session, dispatch_uid="chat-session-deleted")
    post_delete.connect(_token_deleted, sender=ApiToken, dispatch_uid="chat-token-deleted")
    post_save.connect(_user_saved, sender=User, dispatch_uid="chat-user-saved")
    post_delete.connect(_user_deleted, sender=User, dispatch_uid="chat-user-deleted")
    post_save.connect(_membership_saved, sender=Membership, dispatch_uid="chat-membership-saved")
    post_delete.connect(
        _membership_deleted, sender=Membership, dispatch_uid="chat-membership-deleted"
    )
    post_save.connect(_chat_saved, sender=ChatRoom, dispatch_uid="chat-room-saved")
    pre_delete.connect(_chat_deleting, sender=ChatRoom, dispatch_uid="chat-room-deleting")
    post_delete.connect(_chat_deleted, sender=ChatRoom, dispatch_uid="chat-room-deleted")
