from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self):
        from django.conf import settings

        from chat import accounts
        from chat.moderation.signals import connect_signals

        connect_signals()
        accounts.connect_signals()
        if settings.CHAT_METRICS_NAMESPACE:
            from chat.ops.metrics import CloudWatchReporter

            CloudWatchReporter(
                settings.CHAT_METRICS_NAMESPACE, settings.CHAT_METRICS_INTERVAL
            ).start()
