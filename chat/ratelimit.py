"""A token bucket: the per-socket frame budget."""

import time


class TokenBucket:
    """Allows bursts of ``burst`` events, refilled at ``rate`` per second."""

    def __init__(self, *, burst: int, rate: float, clock=time.monotonic):
        self.burst = burst
        self.rate = rate
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()

    def take(self) -> bool:
        """Spend one token; False (spending nothing) when the budget is exhausted."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
