"""Access to the configured message store (``settings.CHAT_STORE_BACKEND``)."""

import functools

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from chat.stores.base import MessageStore


@functools.cache
def get_store() -> MessageStore:
    """Return the process-wide store, importing its backend on first use."""
    return import_string(settings.CHAT_STORE_BACKEND)()


def _reset_store(*, setting, **kwargs):
    if setting == "CHAT_STORE_BACKEND":
        get_store.cache_clear()


setting_changed.connect(_reset_store)
