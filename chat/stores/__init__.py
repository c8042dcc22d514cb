"""Access to the configured message store (``settings.CHAT_STORE_BACKEND``)."""

import functools
import time

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from chat.ops.metrics import STORE_SECONDS
from chat.stores.base import MessageStore

# The store's operations: each call is timed (chat.ops.metrics, ``chat_store_seconds``).
OPERATIONS = frozenset(
    name
    for name, value in vars(MessageStore).items()
    if not name.startswith("_") and callable(value)
)


class TimedStore:
    """A backend whose every operation is timed; anything else is the backend's own."""

    def __init__(self, backend: MessageStore):
        self.backend = backend

    def __getattr__(self, name):
        attribute = getattr(self.backend, name)
        if name not in OPERATIONS:
            return attribute
        histogram = STORE_SECONDS.labels(operation=name)

        @functools.wraps(attribute)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return attribute(*args, **kwargs)
            finally:
                histogram.observe(time.perf_counter() - started)

        setattr(self, name, timed)  # built once per operation
        return timed


@functools.cache
def get_store() -> MessageStore:
    """Return the process-wide store, importing its backend on first use."""
    return TimedStore(import_string(settings.CHAT_STORE_BACKEND)())


def _reset_store(*, setting, **kwargs):
    if setting == "CHAT_STORE_BACKEND":
        get_store.cache_clear()


setting_changed.connect(_reset_store)
