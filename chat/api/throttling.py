"""Per-user request budgets of the API, counted in fixed windows (``chat.budgets``).

DRF's ``UserRateThrottle`` keeps every request's timestamp of the last window in one cache
entry and reads and rewrites that list on each request: at 1,200 a minute a list of up to 1,200
floats pickled twice per request (2-3 ms a request on PostgreSQL + Redis). These count each
window in one integer.
"""

import time

from rest_framework.throttling import UserRateThrottle

from chat import budgets


class UserWindowThrottle(UserRateThrottle):
    """``DEFAULT_THROTTLE_RATES["user"]`` per user (by address when anonymous)."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.wait_seconds = self.duration - time.time() % self.duration
        return budgets.spend(key, self.duration) <= self.num_requests

    def wait(self):
        return self.wait_seconds


def budget(scope: str) -> type[UserWindowThrottle]:
    """A per-user budget with its own rate (``DEFAULT_THROTTLE_RATES[scope]``), counted on
    top of the general one."""
    name = "".join(part.title() for part in scope.split("_")) + "Throttle"
    return type(name, (UserWindowThrottle,), {"scope": scope})


SendThrottle = budget("send")
CreateChatThrottle = budget("create_chat")
LookupThrottle = budget("lookup")
CreateTokenThrottle = budget("create_token")
