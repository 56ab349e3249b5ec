"""A small expiring cache for who a credential stands for.

Every entry lives ``seconds`` from when it was put; ``seconds <= 0`` keeps nothing, so a
deployment can check every request. The cache is bounded: past ``max_entries`` it is cleared
rather than kept in order (a flood of distinct tokens must not grow memory; the next request
of each real member simply asks again). Thread-safe: units of work run on threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["TtlCache"]

V = TypeVar("V")


class TtlCache(Generic[V]):
    """key -> value, each for ``seconds`` after it was put."""

    def __init__(
        self,
        seconds: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds, self.max_entries, self._clock = seconds, max_entries, clock
        self._items: dict[str, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        """The value put under ``key`` less than ``seconds`` ago, else None."""
        hit = self._items.get(key)
        if hit is None:
            return None
        if hit[0] <= self._clock():
            with self._lock:
                self._items.pop(key, None)
            return None
        return hit[1]

    def put(self, key: str, value: V) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            if len(self._items) >= self.max_entries:
                self._items.clear()
            self._items[key] = (self._clock() + self.seconds, value)

    def drop_where(self, test: Callable[[V], bool]) -> int:
        """Forget every entry whose value passes ``test``; how many were forgotten."""
        with self._lock:
            keys = [k for k, (_t, v) in self._items.items() if test(v)]
            for key in keys:
                del self._items[key]
        return len(keys)

    def __len__(self) -> int:
        return len(self._items)
