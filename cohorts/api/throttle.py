"""Failed token attempts, counted per client address.

Past ``limit`` failures within ``window`` seconds, an address is refused (429, Retry-After)
for any token the service does not recognise, without looking it up; members whose tokens
were valid recently still get in from there (a JupyterHub proxy is one address for everyone).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque

__all__ = ["FailedAttempts"]


class FailedAttempts:
    """Sliding-window counts of failed token attempts per address; bounded in memory."""

    def __init__(self, limit: int, window: float, max_addresses: int = 10_000) -> None:
        self.limit, self.window, self.max_addresses = limit, window, max_addresses
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try an unknown token again; None when it may now."""
        if self.limit <= 0:
            return None
        with self._lock:
            times = self._seen.get(address)
            if times is None:
                return None
            self._forget_old(times, time.monotonic())
            if len(times) < self.limit:
                return None
            return max(1, math.ceil(times[0] + self.window - time.monotonic()))

    def failed(self, address: str) -> None:
        """Count one failed attempt from ``address``."""
        if self.limit <= 0:
            return
        now = time.monotonic()
        with self._lock:
            times = self._seen.pop(address, None) or deque(maxlen=self.limit)
            self._forget_old(times, now)
            times.append(now)
            self._seen[address] = times  # most recent last: the oldest go first
            while len(self._seen) > self.max_addresses:
                self._seen.popitem(last=False)

    def _forget_old(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.window:
            times.popleft()
