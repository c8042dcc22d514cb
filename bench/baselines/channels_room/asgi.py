"""The tutorial room consumer behind the chat protocol's joinChat/sendMessage frames."""

import json
import os

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application
from django.urls import path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.baselines.channels_room.settings")
django_asgi_app = get_asgi_application()


class RoomConsumer(AsyncWebsocketConsumer):
    async def receive(self, text_data=None, bytes_data=None):
        frame = json.loads(text_data)
        chat_id = frame.get("chatId")
        if frame.get("action") == "joinChat":
            await self.channel_layer.group_add(f"chat_{chat_id}", self.channel_name)
            await self.send(json.dumps({"type": "joined", "chatId": chat_id, "lastSeq": 0}))
        elif frame.get("action") == "sendMessage":
            await self.channel_layer.group_send(
                f"chat_{chat_id}",
                {"type": "chat.message", "chatId": chat_id, "message": frame["message"]},
            )

    async def chat_message(self, event):
        await self.send(
            json.dumps(
                {
                    "type": "message",
                    "chatId": event["chatId"],
                    "message": {"message": event["message"]},
                }
            )
        )


application = ProtocolTypeRouter(
    {"http": django_asgi_app, "websocket": URLRouter([path("ws/", RoomConsumer.as_asgi())])}
)
