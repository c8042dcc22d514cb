"""What every page's template is given besides Django's own."""

from django.conf import settings

from chat import selectors


def page_limits(request) -> dict:
    """The server's limits that the pages' scripts follow, set on ``<main>`` as data attributes
    (base.html), so that no script keeps a copy of one."""
    return {
        "page_limits": {
            "presence_poll_seconds": settings.CHAT_PRESENCE_POLL_SECONDS,
            "presence_max_users": selectors.PRESENCE_MAX_USERS,
            "chat_list_max": selectors.CHAT_LIST_MAX_LIMIT,
        }
    }
