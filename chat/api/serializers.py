"""Validation of API input, and the documented shapes of API output (OpenAPI)."""

from django.conf import settings
from rest_framework import serializers

from chat.models import ChatRoom
from chat.selectors import (
    CHAT_LIST_LIMIT,
    CHAT_LIST_MAX_LIMIT,
    HISTORY_DEFAULT_LIMIT,
    HISTORY_MAX_LIMIT,
    PRESENCE_MAX_USERS,
)
from chat.services import CLIENT_MESSAGE_ID_MAX_LENGTH

# A user id on the wire: the decimal digits of the user's primary key.
USER_ID = r"^[0-9]{1,18}$"


def query_text(**options) -> serializers.RegexField:
    """Text in a query string: anything but NUL, which every request refuses (a 400 before any
    view, chatsite.middleware), as the schema says."""
    return serializers.RegexField(r"^[^\x00]*$", **options)


class ChatListQuery(serializers.Serializer):
    userId = serializers.RegexField(USER_ID, required=False, help_text="Defaults to the caller.")
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=CHAT_LIST_MAX_LIMIT, default=CHAT_LIST_LIMIT
    )
    cursor = query_text(
        required=False, max_length=512, help_text="nextCursor of the previous page."
    )


class UserQuery(serializers.Serializer):
    username = query_text(max_length=150)


class UserPrefixQuery(serializers.Serializer):
    prefix = query_text(
        max_length=150,
        help_text="Usernames starting with this, any case: people you know first, others from "
        "3 characters on.",
    )


class SuggestionOutput(serializers.Serializer):
    userId = serializers.CharField()
    username = serializers.CharField()
    known = serializers.BooleanField(help_text="You share a chat, or looked them up.")


class SuggestionListOutput(serializers.Serializer):
    users = SuggestionOutput(many=True)


class SearchQuery(serializers.Serializer):
    q = query_text(max_length=200, help_text="Words; each matches a word's start.")
    chatId = serializers.UUIDField(required=False, help_text="Search this chat only.")
    limit = serializers.IntegerField(min_value=1, max_value=50, default=20)


class ChatCreateInput(serializers.Serializer):
    chatType = serializers.ChoiceField(choices=ChatRoom.ChatType.choices)
    participants = serializers.ListField(
        child=serializers.RegexField(USER_ID),
        allow_empty=False,
        max_length=settings.CHAT_GROUP_MAX_MEMBERS,
        help_text="User ids of the other participants (the caller is always included).",
    )
    chatName = serializers.CharField(required=False, allow_blank=True, max_length=200)


class HistoryQuery(serializers.Serializer):
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=HISTORY_MAX_LIMIT, default=HISTORY_DEFAULT_LIMIT
    )
    cursor = query_text(
        required=False, max_length=512, help_text="nextCursor of the previous page."
    )
    afterSeq = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text="Catch-up: messages after this seq, oldest first (cursor is then ignored).",
    )


class MessageCreateInput(serializers.Serializer):
    message = serializers.CharField(
        trim_whitespace=False, allow_blank=True, help_text="May be empty with attachments."
    )
    clientMessageId = serializers.CharField(
        required=False,
        max_length=CLIENT_MESSAGE_ID_MAX_LENGTH,
        help_text="Idempotency key; a retry with the same key returns the original message.",
    )
    attachments = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=50,
        help_text="attachmentIds from POST /api/upload-url, uploaded by the sender to this chat.",
    )
    replyTo = serializers.CharField(
        required=False, max_length=64, help_text="The messageId of the message it answers."
    )


class PresenceQuery(serializers.Serializer):
    userIds = serializers.RegexField(
        rf"^[0-9]{{1,18}}(,[0-9]{{1,18}}){{0,{PRESENCE_MAX_USERS - 1}}}$",
        help_text=f"Up to {PRESENCE_MAX_USERS} user ids, comma-separated.",
    )


class PresenceUser(serializers.Serializer):
    userId = serializers.CharField()
    online = serializers.BooleanField()
    lastSeen = serializers.DateTimeField(allow_null=True)


class PresenceOutput(serializers.Serializer):
    users = PresenceUser(many=True)


class ChatRenameInput(serializers.Serializer):
    chatName = serializers.CharField(max_length=200)


class MembersAddInput(serializers.Serializer):
    participants = serializers.ListField(
        child=serializers.RegexField(USER_ID), min_length=1, max_length=100
    )


class MessageEditInput(serializers.Serializer):
    message = serializers.CharField(trim_whitespace=False)


class UploadUrlInput(serializers.Serializer):
    chatId = serializers.UUIDField()
    filename = serializers.CharField(max_length=1000, trim_whitespace=False)
    contentType = serializers.CharField(max_length=100)
    size = serializers.IntegerField(min_value=1, max_value=2**53)


class UploadUrlOutput(serializers.Serializer):
    attachmentId = serializers.UUIDField()
    url = serializers.CharField(help_text="Where to POST the form (S3, or this app).")
    fields = serializers.DictField(
        child=serializers.CharField(), help_text="Form fields to send before the file."
    )
    expiresAt = serializers.DateTimeField()
    maxBytes = serializers.IntegerField()


class QuoteOutput(serializers.Serializer):
    seq = serializers.IntegerField()
    messageId = serializers.CharField(allow_null=True)
    userId = serializers.CharField(required=False)
    username = serializers.CharField(required=False)
    message = serializers.CharField(
        required=False, allow_blank=True, help_text="The start of its text."
    )
    attachments = serializers.IntegerField(required=False, help_text="How many files it has.")
    deleted = serializers.BooleanField(help_text="Deleted since: nothing of it is shown.")


class ReactionOutput(serializers.Serializer):
    emoji = serializers.CharField()
    count = serializers.IntegerField()
    userIds = serializers.ListField(child=serializers.CharField())


class MessageReactionsOutput(serializers.Serializer):
    chatId = serializers.CharField()
    seq = serializers.IntegerField()
    messageId = serializers.CharField()
    reactions = ReactionOutput(many=True)


class MessageOutput(serializers.Serializer):
    chatId = serializers.CharField()
    seq = serializers.IntegerField()
    messageId = serializers.CharField()
    clientMessageId = serializers.CharField()
    userId = serializers.CharField()
    username = serializers.CharField()
    message = serializers.CharField(allow_blank=True, help_text="Empty once deleted.")
    timestamp = serializers.IntegerField(help_text="Milliseconds since the epoch.")
    createdAt = serializers.DateTimeField()
    attachments = serializers.ListField(child=serializers.DictField())
    kind = serializers.ChoiceField(
        choices=["text", "system"], help_text="system: a note of what a member did."
    )
    edited = serializers.BooleanField()
    editedAt = serializers.IntegerField(
        allow_null=True, help_text="When its sender last edited it (ms since the epoch), or null."
    )
    deleted = serializers.BooleanField(
        help_text="A tombstone: deleted by its sender or a moderator."
    )
    delivered = serializers.BooleanField()
    read = serializers.BooleanField()
    replyTo = QuoteOutput(allow_null=True, help_text="The message it answers, or null.")
    reactions = ReactionOutput(many=True)


class MemberOutput(serializers.Serializer):
    userId = serializers.CharField()
    username = serializers.CharField()


class UserListOutput(serializers.Serializer):
    users = MemberOutput(many=True)


class ChatOutput(serializers.Serializer):
    chatId = serializers.UUIDField()
    chatName = serializers.CharField()
    chatType = serializers.ChoiceField(choices=ChatRoom.ChatType.choices)
    participants = serializers.ListField(child=serializers.CharField())
    members = MemberOutput(many=True)
    createdAt = serializers.DateTimeField()
    lastActivity = serializers.DateTimeField()
    lastMessage = MessageOutput(allow_null=True)
    unreadCount = serializers.IntegerField()


class ChatListOutput(serializers.Serializer):
    chats = ChatOutput(many=True)
    nextCursor = serializers.CharField(
        allow_null=True, help_text="The next page's cursor; null on the last page."
    )


class HistoryOutput(serializers.Serializer):
    messages = MessageOutput(many=True)
    nextCursor = serializers.CharField(allow_null=True, required=False)
    hasMore = serializers.BooleanField()


class SearchHit(serializers.Serializer):
    chatName = serializers.CharField(help_text="The chat's name as the searcher sees it.")
    message = MessageOutput()


class SearchOutput(serializers.Serializer):
    results = SearchHit(many=True)


class ErrorOutput(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    detail = serializers.CharField()
    retryable = serializers.BooleanField(
        required=False, help_text="Present (true) when the same request may succeed later."
    )
    fields = serializers.DictField(required=False, help_text="Bad input: the errors per field.")


class TokenInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="What will use it.")


class TokenOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    createdAt = serializers.DateTimeField()
    lastUsedAt = serializers.DateTimeField(allow_null=True)


class TokenCreatedOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    createdAt = serializers.DateTimeField()
    token = serializers.CharField(
        help_text="The secret: send it as `Authorization: Bearer <token>`. Shown only now."
    )


class TokenListOutput(serializers.Serializer):
    tokens = TokenOutput(many=True)
