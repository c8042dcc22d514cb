"""URLs under /api/."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from chat.api import views
from chat.api.errors import json_not_found

urlpatterns = [
    path("me", views.MeView.as_view(), name="api-me"),
    path("users", views.UsersView.as_view(), name="api-users"),
    path("chats", views.ChatsView.as_view(), name="api-chats"),
    path("chats/<str:chat_id>/messages", views.ChatMessagesView.as_view(), name="api-messages"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    # Anything else under /api/ is a JSON 404, in development as in production.
    re_path(r"", json_not_found),
]
