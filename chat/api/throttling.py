"""Per-user request budgets of the API, counted in fixed windows.

DRF's ``UserRateThrottle`` keeps every request's timestamp of the last window in one cache
entry and reads and rewrites that list on each request: at 1,200 a minute a list of up to 1,200
floats pickled twice per request (2-3 ms a request on PostgreSQL + Redis). These count each
window in one integer (``INCR`` on Redis). A fixed window lets a client spend up to twice its
rate across a window's boundary, which a budget against floods can afford.
"""

import time

from rest_framework.throttling import UserRateThrottle


class UserWindowThrottle(UserRateThrottle):
    """``DEFAULT_THROTTLE_RATES["user"]`` per user (by address when anonymous)."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = time.time()
        window = int(now // self.duration)
        self.wait_seconds = self.duration - now % self.duration
        name = f"{key}:{window}"
        try:
            count = self.cache.incr(name)
        except ValueError:  # the window's first request (or its entry just expired)
            if self.cache.add(name, 1, self.duration + 1):
                return True
            count = self.cache.incr(name)
        return count <= self.num_requests

    def wait(self):
        return self.wait_seconds


def budget(scope: str) -> type[UserWindowThrottle]:
    """A per-user budget with its own rate (``DEFAULT_THROTTLE_RATES[scope]``), counted on
    top of the general one."""
    name = "".join(part.title() for part in scope.split("_")) + "Throttle"
    return type(name, (UserWindowThrottle,), {"scope": scope})
