"""Page URLs."""

from django.urls import path

from chat import views
from chat.media import views as media_views

app_name = "chat"

urlpatterns = [
    path("", views.chat_list, name="list"),
    path("chats/<uuid:chat_id>/", views.chat_detail, name="detail"),
    path("search/", views.search, name="search"),
    path("uploads/<uuid:attachment_id>/", media_views.upload, name="upload"),
    path("media/<uuid:chat_id>/<uuid:attachment_id>/", media_views.media, name="media"),
    path(
        "media/<uuid:chat_id>/<uuid:attachment_id>/thumbnail/",
        media_views.media_thumbnail,
        name="media-thumbnail",
    ),
]
