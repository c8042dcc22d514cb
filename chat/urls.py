"""Page URLs."""

from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("", views.chat_list, name="list"),
    path("chats/<uuid:chat_id>/", views.chat_detail, name="detail"),
]
