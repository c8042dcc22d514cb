"""REST endpoints: parse, authorize, call a selector or service, render JSON."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import errors, selectors, services
from chat.api import serializers as s
from chat.api.throttling import (
    CreateChatThrottle,
    CreateTokenThrottle,
    LookupThrottle,
    SendThrottle,
    UserWindowThrottle,
    budget,
)
from chat.identity import tokens
from chat.media import uploads as media
from chat.payloads import (
    chat_page_payload,
    chat_payload,
    message_page_payload,
    message_payload,
    message_reactions_payload,
    presence_payload,
    search_hit_payload,
    suggestion_payload,
    token_payload,
    upload_ticket_payload,
    user_payload,
)
from chat.selectors import ListedChat

ERRORS = {code: OpenApiResponse(s.ErrorOutput) for code in (400, 401, 403, 404, 406, 413, 429, 503)}


class _PostBudget:
    """Adds ``post_throttle`` to a view's throttles for POST requests only."""

    post_throttle: type[UserWindowThrottle]

    def get_throttles(self):
        throttles = super().get_throttles()
        if self.request.method == "POST":
            throttles.append(self.post_throttle())
        return throttles


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class MeView(APIView):
    @extend_schema(responses={200: s.MemberOutput, **ERRORS}, summary="The logged-in user")
    def get(self, request):
        return Response(user_payload(request.user))


class UsersView(APIView):
    throttle_classes = [UserWindowThrottle, LookupThrottle]

    @extend_schema(
        parameters=[s.UserQuery],
        responses={200: s.UserListOutput, **ERRORS},
        summary="Find a user by exact username: they may then be added to chats by id",
    )
    def get(self, request):
        query = _valid(s.UserQuery, request.query_params)
        found = services.user_find(finder=request.user, username=query["username"])
        return Response({"users": [user_payload(user) for user in found]})


class UserSuggestionsView(APIView):
    throttle_classes = [UserWindowThrottle, LookupThrottle]

    @extend_schema(
        parameters=[s.UserPrefixQuery],
        responses={200: s.SuggestionListOutput, **ERRORS},
        summary="Suggest usernames by their start (the user picker)",
    )
    def get(self, request):
        query = _valid(s.UserPrefixQuery, request.query_params)
        users = selectors.users_by_prefix(viewer=request.user, prefix=query["prefix"])
        return Response({"users": [suggestion_payload(each) for each in users]})


class SearchView(APIView):
    throttle_classes = [UserWindowThrottle, LookupThrottle]

    @extend_schema(
        parameters=[s.SearchQuery],
        responses={200: s.SearchOutput, **ERRORS},
        summary="Search the messages of your chats",
    )
    def get(self, request):
        """Messages with a word starting with each word of ``q``, newest first."""
        query = _valid(s.SearchQuery, request.query_params)
        chat_id = query.get("chatId")
        results = selectors.message_search(
            user=request.user, query=query["q"], limit=query["limit"],
            chat_id=str(chat_id) if chat_id else None,
        )  # fmt: skip
        return Response({"results": [search_hit_payload(hit) for hit in results]})


class ChatsView(_PostBudget, APIView):
    post_throttle = CreateChatThrottle

    @extend_schema(
        parameters=[s.ChatListQuery],
        responses={200: s.ChatListOutput, **ERRORS},
        summary="The user's chats",
    )
    def get(self, request):
        """Chats of ``userId`` (default: the caller), most recent first, ``limit`` a page (100,
        at most 200) and ``cursor`` for the next. Staff may list anyone's."""
        query = _valid(s.ChatListQuery, request.query_params)
        user_id = query.get("userId", str(request.user.pk))
        if user_id != str(request.user.pk) and not request.user.is_staff:
            raise errors.Forbidden("You may list only your own chats.", code="forbidden")
        page = selectors.chat_list_for_user(
            user_id=user_id, limit=query["limit"], cursor=query.get("cursor")
        )
        return Response(chat_page_payload(page))

    @extend_schema(
        request=s.ChatCreateInput,
        responses={201: s.ChatOutput, 200: s.ChatOutput, **ERRORS},
        summary="Create a chat (a direct chat that exists is returned with 200)",
    )
    def post(self, request):
        data = _valid(s.ChatCreateInput, request.data)
        chat, created = services.chat_create(
            creator=request.user,
            chat_type=data["chatType"],
            participants=selectors.users_by_ids(data["participants"], known_to=request.user),
            name=data.get("chatName", ""),
        )
        body = chat_payload(ListedChat(chat, selectors.chat_members(chat)))
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ChatMessagesView(_PostBudget, APIView):
    post_throttle = SendThrottle

    @extend_schema(
        parameters=[s.HistoryQuery],
        responses={200: s.HistoryOutput, **ERRORS},
        summary="Chat history",
    )
    def get(self, request, chat_id):
        """Newest first, ``limit`` a page, ``cursor`` for older pages; ``afterSeq`` catches up."""
        query = _valid(s.HistoryQuery, request.query_params)
        page = selectors.member_history(
            chat_id=chat_id,
            user=request.user,
            limit=query["limit"],
            cursor=query.get("cursor"),
            after_seq=query.get("afterSeq"),
        )
        return Response(message_page_payload(page))

    @extend_schema(
        request=s.MessageCreateInput,
        responses={201: s.MessageOutput, 200: s.MessageOutput, **ERRORS},
        summary="Send a message (a retried clientMessageId returns the original with 200)",
    )
    def post(self, request, chat_id):
        data = _valid(s.MessageCreateInput, request.data)
        chat = selectors.chat_for_sender(chat_id=chat_id, user=request.user)
        result = services.message_send(
            chat_id=str(chat.pk),
            user_id=str(request.user.pk),
            username=request.user.get_username(),
            body=data["message"],
            client_message_id=data.get("clientMessageId") or services.new_client_message_id(),
            attachment_ids=data.get("attachments") or (),
            reply_to=data.get("replyTo") or "",
        )
        # Whoever writes has read the chat up to their own message.
        services.message_mark_read(
            chat_id=str(chat.pk), user_id=str(request.user.pk), seq=result.message.seq
        )
        return Response(
            message_payload(result.message, quoted=result.quoted),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class UploadUrlView(APIView):
    throttle_classes = [*APIView.throttle_classes, budget("upload")]

    @extend_schema(
        request=s.UploadUrlInput,
        responses={201: s.UploadUrlOutput, **ERRORS},
        summary="An upload URL for one file to a chat",
    )
    def post(self, request):
        """POST ``fields`` then the file (field ``file``) as ``multipart/form-data`` to ``url``
        before ``expiresAt``; then send a message with ``attachments: [attachmentId]``."""
        data = _valid(s.UploadUrlInput, request.data)
        chat = selectors.chat_for_sender(chat_id=str(data["chatId"]), user=request.user)
        ticket = media.upload_start(
            chat=chat,
            user=request.user,
            filename=data["filename"],
            content_type=data["contentType"],
            size=data["size"],
        )
        return Response(upload_ticket_payload(ticket), status=status.HTTP_201_CREATED)


class MessageView(APIView):
    @extend_schema(
        request=s.MessageEditInput,
        responses={200: s.MessageOutput, **ERRORS},
        summary="Edit your own message (within the edit window)",
    )
    def patch(self, request, chat_id, message_id):
        data = _valid(s.MessageEditInput, request.data)
        chat = selectors.chat_for_sender(chat_id=chat_id, user=request.user)
        edited = services.message_edit(
            chat_id=str(chat.pk), message_id=message_id, user_id=str(request.user.pk),
            body=data["message"],
        )  # fmt: skip
        return Response(message_payload(edited))

    @extend_schema(
        responses={200: s.MessageOutput, **ERRORS},
        summary="Delete your own message (a tombstone stays in its place)",
    )
    def delete(self, request, chat_id, message_id):
        chat = selectors.chat_for_sender(chat_id=chat_id, user=request.user)
        deleted = services.message_delete(
            chat_id=str(chat.pk), message_id=message_id, user_id=str(request.user.pk)
        )
        return Response(message_payload(deleted))


class ReactionView(APIView):
    def _set(self, request, chat_id, message_id, emoji, *, on: bool):
        chat = selectors.chat_for_sender(chat_id=chat_id, user=request.user)
        message, reactions = services.reaction_set(
            chat_id=str(chat.pk), user_id=str(request.user.pk), message_id=message_id,
            emoji=emoji, on=on,
        )  # fmt: skip
        return Response(message_reactions_payload(message, reactions))

    @extend_schema(
        request=None,
        responses={200: s.MessageReactionsOutput, **ERRORS},
        summary="React to a message with an emoji (again: no change)",
    )
    def put(self, request, chat_id, message_id, emoji):
        return self._set(request, chat_id, message_id, emoji, on=True)

    @extend_schema(
        request=None,
        responses={200: s.MessageReactionsOutput, **ERRORS},
        summary="Take back your emoji reaction",
    )
    def delete(self, request, chat_id, message_id, emoji):
        return self._set(request, chat_id, message_id, emoji, on=False)


def _chat_answer(chat) -> Response:
    chat.refresh_from_db()
    return Response(chat_payload(ListedChat(chat, selectors.chat_members(chat))))


class ChatView(APIView):
    @extend_schema(
        responses={200: s.ChatOutput, **ERRORS},
        summary="One of your chats, as listed: members, last message, unread count",
        operation_id="chat_retrieve",
    )
    def get(self, request, chat_id):
        return Response(chat_payload(selectors.chat_summary(chat_id=chat_id, user=request.user)))

    @extend_schema(
        request=s.ChatRenameInput,
        responses={200: s.ChatOutput, **ERRORS},
        summary="Rename a group (any member)",
    )
    def patch(self, request, chat_id):
        data = _valid(s.ChatRenameInput, request.data)
        chat = selectors.chat_for_sender(chat_id=chat_id, user=request.user)
        services.group_rename(chat=chat, actor=request.user, name=data["chatName"])
        return _chat_answer(chat)


class ChatMembersView(APIView):
    @extend_schema(
        request=s.MembersAddInput,
        responses={200: s.ChatOutput, **ERRORS},
        summary="Add people to a group (people you found or share a chat with)",
    )
    def post(self, request, chat_id):
        data = _valid(s.MembersAddInput, request.data)
        chat = selectors.chat_for_sender(chat_id=chat_id, user=request.user)
        people = selectors.users_by_ids(data["participants"], known_to=request.user)
        services.group_add(chat=chat, actor=request.user, people=people)
        return _chat_answer(chat)


class ChatMemberView(APIView):
    @extend_schema(
        responses={200: s.ChatOutput, **ERRORS},
        summary="Leave a group (your own user id) or, as its creator, remove a member",
    )
    def delete(self, request, chat_id, user_id):
        chat = selectors.chat_for_sender(chat_id=chat_id, user=request.user)
        member = selectors.chat_member(chat, user_id)
        services.group_remove(chat=chat, actor=request.user, member=member)
        return _chat_answer(chat)


class PresenceView(APIView):
    @extend_schema(
        parameters=[s.PresenceQuery],
        responses={200: s.PresenceOutput, **ERRORS},
        summary="Who is online, and when others were last seen (people you share a chat with)",
    )
    def get(self, request):
        query = _valid(s.PresenceQuery, request.query_params)
        users = selectors.presence(viewer=request.user, user_ids=query["userIds"].split(","))
        return Response({"users": [presence_payload(seen) for seen in users]})


class TokensView(_PostBudget, APIView):
    post_throttle = CreateTokenThrottle

    @extend_schema(responses={200: s.TokenListOutput, **ERRORS}, summary="Your API tokens")
    def get(self, request):
        return Response({"tokens": [token_payload(t) for t in tokens.tokens_of(request.user)]})

    @extend_schema(
        request=s.TokenInput,
        responses={201: s.TokenCreatedOutput, **ERRORS},
        summary="Make an API token (its secret is in this answer only)",
    )
    def post(self, request):
        data = _valid(s.TokenInput, request.data)
        token, secret = tokens.token_create(user=request.user, name=data["name"])
        body = {k: v for k, v in token_payload(token).items() if k != "lastUsedAt"}
        response = Response({**body, "token": secret}, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class TokenView(APIView):
    @extend_schema(
        responses={204: None, **ERRORS},
        summary="Revoke an API token: requests and sockets using it are refused at once",
    )
    def delete(self, request, token_id):
        tokens.token_revoke(user=request.user, token_id=token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
