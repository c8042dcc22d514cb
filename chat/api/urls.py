"""URLs under /api/."""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from chat.api import views
from chat.api.errors import json_not_found


def _docs_page(view_class):
    # The API's documentation pages (Swagger UI, Redoc) start with an inline script and style,
    # and Redoc renders in a worker: the site's policy is widened for these two pages only.
    widen = {
        "script-src": [UNSAFE_INLINE],
        "style-src": [UNSAFE_INLINE],
        "worker-src": [SELF, "blob:"],
    }
    return csp_update(widen)(view_class.as_view(url_name="api-schema"))


urlpatterns = [
    path("me", views.MeView.as_view(), name="api-me"),
    path("users", views.UsersView.as_view(), name="api-users"),
    path("users/suggestions", views.UserSuggestionsView.as_view(), name="api-user-suggestions"),
    path("chats", views.ChatsView.as_view(), name="api-chats"),
    path("chats/<str:chat_id>/messages", views.ChatMessagesView.as_view(), name="api-messages"),
    path(
        "chats/<str:chat_id>/messages/<str:message_id>",
        views.MessageView.as_view(),
        name="api-message",
    ),
    path(
        "chats/<str:chat_id>/messages/<str:message_id>/reactions/<str:emoji>",
        views.ReactionView.as_view(),
        name="api-reaction",
    ),
    path("chats/<str:chat_id>", views.ChatView.as_view(), name="api-chat"),
    path("chats/<str:chat_id>/members", views.ChatMembersView.as_view(), name="api-members"),
    path(
        "chats/<str:chat_id>/members/<str:user_id>",
        views.ChatMemberView.as_view(),
        name="api-member",
    ),
    path("presence", views.PresenceView.as_view(), name="api-presence"),
    path("search", views.SearchView.as_view(), name="api-search"),
    path("upload-url", views.UploadUrlView.as_view(), name="api-upload-url"),
    path("tokens", views.TokensView.as_view(), name="api-tokens"),
    path("tokens/<str:token_id>", views.TokenView.as_view(), name="api-token"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", _docs_page(SpectacularSwaggerView), name="api-docs"),
    path("redoc/", _docs_page(SpectacularRedocView), name="api-redoc"),
    # Anything else under /api/ is a JSON 404, in development as in production.
    re_path(r"", json_not_found),
]
