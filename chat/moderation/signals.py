"""Changes made outside the services, adapted to the same real-time events.

Staff change users, memberships and rooms in Django admin, people log out and change their
passwords through Django's own views, scripts use the shell. Such a change is a model change
that no service announces, so model signals hand it to ``chat.realtime.events``; a change made
inside a service that announces its own (``events.announcing``) is skipped, so nothing is sent
twice:

- a session ended (logout, deleted) or an API token deleted -> ``session_ended``: its sockets
  close with 4401;
- a user saved (password, active flag, ...) or deleted -> ``user_changed``: their sockets
  re-read their session and close with 4401 (session no longer valid) or 4403 (deactivated);
- a membership deleted -> ``member_removed``: her sockets leave the chat and get ``removed``;
  every later frame for it is refused;
- a membership saved new one by one (staff adding someone in admin, the shell) ->
  ``members_added``: her chat lists show the chat (the services make memberships in bulk and
  announce them themselves);
- a room saved -> ``chat_changed``: sockets that use it learn whether it is now read-only
  (locked or archived) and joined ones get ``chatUpdated``;
- a room deleted -> ``chat_deleted`` to its members' sockets, and its history (messages and
  counter) is deleted from the message store once the deletion commits.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete

from chat.models import ApiToken, ChatRoom, Membership
from chat.moderation.actions import files_delete, history_delete
from chat.realtime import events


def _adapting(handler):
    # A signal handler that leaves a service's changes to the service.
    def adapter(*args, **kwargs):
        if not events.announced_by_service():
            handler(*args, **kwargs)

    return adapter


@_adapting
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        events.session_ended(request.session.session_key)


@_adapting
def _session_deleted(sender, instance, **kwargs):
    events.session_ended(instance.session_key)


@_adapting
def _token_deleted(sender, instance, **kwargs):
    events.session_ended(f"token:{instance.pk}")


@_adapting
def _user_saved(sender, instance, created, update_fields=None, **kwargs):
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return  # a new user has no sockets; a log-in changes nothing they hold
    events.user_changed(instance.pk, username=instance.get_username())


@_adapting
def _user_deleted(sender, instance, **kwargs):
    events.user_changed(instance.pk)


@_adapting
def _membership_saved(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        events.members_added(instance.chat, [instance.user_id])


@_adapting
def _membership_deleted(sender, instance, **kwargs):
    events.member_removed(chat_id=instance.chat_id, user_id=instance.user_id)


@_adapting
def _chat_saved(sender, instance, created, **kwargs):
    if not created:
        events.chat_changed(instance)


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
    events.chat_deleted(chat_id=chat_id, member_ids=members)
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
