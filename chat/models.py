"""Relational data: chat rooms and their members, plus the ORM store's tables.

Rooms and memberships live here (not in the message store) so that Django admin can moderate
them and "a user's chats" is one relational query. ``StoredMessage``, ``ChatSequence`` and
``Connection`` belong to the ORM store backend (``chat.stores.orm``) and are touched only there.
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class ChatRoom(models.Model):
    """A direct (two people) or group conversation."""

    class ChatType(models.TextChoices):
        DIRECT = "direct", "Direct"
        GROUP = "group", "Group"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, blank=True)
    chat_type = models.CharField(max_length=10, choices=ChatType.choices)
    # "<lower user id>:<higher user id>" for direct chats, so a pair has at most one.
    direct_key = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_activity = models.DateTimeField(default=timezone.now, db_index=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="chats"
    )
    # Database defaults too: rows written by code that predates a column (the previous release
    # during a rolling deploy, bulk SQL) stay valid.
    locked = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Read-only: members can read it, nobody can send.",
    )
    archived = models.BooleanField(
        default=False, db_default=False, help_text="Hidden from members' chat lists, and read-only."
    )

    class Meta:
        ordering = ["-last_activity"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(chat_type="group") | models.Q(direct_key__isnull=False),
                name="direct_chat_has_key",
            )
        ]

    def __str__(self):
        return self.name or f"{self.get_chat_type_display()} chat {self.id}"

    def clean(self):
        # A direct chat is the one chat of a pair, made when one of them starts it; a group
        # (or a new room) cannot be turned into one.
        if self.chat_type == self.ChatType.DIRECT and not self.direct_key:
            raise ValidationError(
                "Only the two people of a direct chat can start it; a group stays a group."
            )


class Membership(models.Model):
    """A user's place in a chat, with how far they have received and read it."""

    chat = models.ForeignKey(ChatRoom, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    joined_at = models.DateTimeField(default=timezone.now)
    last_delivered_seq = models.BigIntegerField(default=0)
    last_read_seq = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chat", "user"], name="one_membership_per_user")
        ]

    def __str__(self):
        return f"{self.user} in {self.chat}"

    def clean(self):
        # Staff add members in the admin: a direct chat keeps its pair, a group its size.
        if self.pk is not None or self.chat_id is None:
            return
        if self.chat.chat_type == ChatRoom.ChatType.DIRECT:
            raise ValidationError("A direct chat has exactly its two people; start a group.")
        if self.chat.memberships.count() >= settings.CHAT_GROUP_MAX_MEMBERS:
            raise ValidationError(
                f"A group chat has at most {settings.CHAT_GROUP_MAX_MEMBERS} members."
            )


class Contact(models.Model):
    """Someone a user found by their exact username: one they may add to chats by user id."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contacts"
    )
    contact = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    found_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "contact"], name="one_contact_per_pair")
        ]

    def __str__(self):
        return f"{self.contact} found by {self.owner}"


class StoredMessage(models.Model):
    """One message of the ORM store (mirrors an item of the DynamoDB messages table)."""

    chat_id = models.CharField(max_length=64)
    seq = models.BigIntegerField()
    message_id = models.CharField(max_length=64, unique=True)
    user_id = models.CharField(max_length=64)
    username = models.CharField(max_length=150)
    body = models.TextField()
    client_message_id = models.CharField(max_length=64)
    attachments = models.JSONField(default=list, blank=True)
    timestamp = models.BigIntegerField(help_text="Milliseconds since the epoch.")
    # Database defaults too (see ChatRoom.locked).
    deleted = models.BooleanField(
        default=False, db_default=False, help_text="A tombstone: no text, no attachments."
    )
    kind = models.CharField(
        max_length=10, default="text", db_default="text", help_text='"text" or "system".'
    )
    edited_at = models.BigIntegerField(
        null=True, blank=True, help_text="When its sender last changed it, ms since the epoch."
    )
    reply_to = models.BigIntegerField(
        default=0, db_default=0, help_text="The seq of the message it answers (0 for none)."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chat_id", "seq"], name="one_message_per_seq"),
            models.UniqueConstraint(
                fields=["chat_id", "user_id", "client_message_id"], name="idempotent_send"
            ),
        ]

    def __str__(self):
        return f"{self.chat_id}#{self.seq}"


class ChatSequence(models.Model):
    """The last ``seq`` handed out in a chat (the ORM store's per-chat counter)."""

    chat_id = models.CharField(max_length=64, primary_key=True)
    last_seq = models.BigIntegerField(default=0)

    def __str__(self):
        return f"{self.chat_id} at {self.last_seq}"


class Connection(models.Model):
    """An open socket in the ORM store's connection registry."""

    connection_id = models.CharField(max_length=255, primary_key=True)
    user_id = models.CharField(max_length=64, db_index=True)
    chat_id = models.CharField(max_length=64, blank=True)
    connected_at = models.BigIntegerField(help_text="Milliseconds since the epoch.")
    ttl = models.BigIntegerField(db_index=True, help_text="Expiry, seconds since the epoch.")

    def __str__(self):
        return self.connection_id


class Upload(models.Model):
    """A file a member is sending to a chat: asked for (an upload URL was handed out), then
    attached to a message once the server checked it (``chat.media``)."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be attached"
        ATTACHED = "attached", "Attached to a message"
        REFUSED = "refused", "Refused when attached"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    chat = models.ForeignKey(ChatRoom, on_delete=models.CASCADE, related_name="uploads")
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads"
    )
    name = models.CharField(max_length=255, help_text="The file's name, as shown.")
    content_type = models.CharField(max_length=100)
    declared_size = models.BigIntegerField()
    key = models.CharField(max_length=512, help_text="Where it is stored, in quarantine or not.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    # Once attached: the message's send key (a retried send attaches it again), what was found.
    client_message_id = models.CharField(max_length=64, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    thumbnail_key = models.CharField(max_length=512, blank=True)
    thumbnail_ready = models.BooleanField(
        default=True, help_text="Whether the preview at thumbnail_key has been made."
    )

    def __str__(self):
        return f"{self.name} ({self.state})"


class Presence(models.Model):
    """When a user was last connected (their online state is the connection registry's)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
        related_name="presence",
    )  # fmt: skip
    last_seen = models.DateTimeField()

    def __str__(self):
        return f"{self.user} last seen {self.last_seen:%Y-%m-%d %H:%M}"


class Reaction(models.Model):
    """A member's emoji on a message (the same on either store: messages are found by their
    chat and ``seq``)."""

    chat = models.ForeignKey(ChatRoom, on_delete=models.CASCADE, related_name="reactions")
    seq = models.BigIntegerField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reactions"
    )
    emoji = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["chat", "seq", "user", "emoji"], name="one_reaction_per_emoji"
            ),
        ]
        indexes = [models.Index(fields=["chat", "seq"], name="reactions_of_message")]

    def __str__(self):
        return f"{self.emoji} by {self.user} on {self.chat_id}#{self.seq}"


class SearchEntry(models.Model):
    """The text of a message stored in DynamoDB, for search (the DynamoDB store writes it with
    the message, changes it with an edit and deletes it with the message; see
    ``chat.stores.dynamodb``). The ORM store searches its own messages instead."""

    chat_id = models.CharField(max_length=64)
    seq = models.BigIntegerField()
    body = models.TextField()
    timestamp = models.BigIntegerField(help_text="Milliseconds since the epoch.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chat_id", "seq"], name="one_search_entry_per_seq")
        ]

    def __str__(self):
        return f"{self.chat_id}#{self.seq}"


class UsernameSkeleton(models.Model):
    """How a user's name may look on screen (``chat.text.username_looks``: a digest of each
    confusable skeleton of it), kept for every account so that a new name is checked against
    all of them with one indexed query."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="username_skeletons"
    )
    skeleton = models.CharField(max_length=64, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "skeleton"], name="one_row_per_look")
        ]

    def __str__(self):
        return self.skeleton


class ApiToken(models.Model):
    """A personal token a program signs in with (``Authorization: Bearer``). Only a digest of
    the secret is kept: the secret is shown once, when the token is made."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    # SHA-256 of the secret, in hex: the secret is random (256 bits), so no slow hash is needed.
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name} ({self.user})"


class ProviderIdentity(models.Model):
    """An account of the OpenID Connect provider (its issuer and ``sub``), linked to the user it
    signs in as. Accounts are linked by this pair only, never by email."""

    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_identities"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # When the provider last refused to renew this account's session (disabled there, or
    # signed out everywhere): its user's API tokens are refused until it signs in again.
    suspended_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="one_user_per_identity")
        ]
        verbose_name_plural = "provider identities"

    def __str__(self):
        return f"{self.subject} at {self.issuer}"
