"""Store backends that fail on purpose, for tests of what callers do about it."""

from chat.stores import orm
from chat.stores.base import StoreError


class MessageStore(orm.MessageStore):
    """The ORM store, whose appends store the message and then report a failure while
    ``fail_after_write`` is set (a write whose response was lost), or fail outright while
    ``fail`` is set."""

    fail = False
    fail_after_write = False

    def append(self, new):
        if MessageStore.fail:
            raise StoreError("store unreachable")
        result = super().append(new)
        if MessageStore.fail_after_write:
            raise StoreError("response lost")
        return result
