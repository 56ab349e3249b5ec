"""Group commit for the hot writes: the ones that arrive in one turn of the event loop share
one SQLite transaction.

Under load, dozens of posts and reactions are parsed in the same turn of the loop. Each
would pay for its own session, ``BEGIN IMMEDIATE``, commit and locks; together they pay
once, which is about a quarter of the CPU of a small write. Nothing changes for a member:
every write in a batch is acknowledged only after the batch commits, and a batch that fails
in any way (a refusal, a conflict, the lock taken by another process) is rolled back whole
and each of its writes runs again on its own, so one member's error is never another's.
Only writes whose work is all in the database are batched (running one twice is harmless).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

from sqlalchemy.orm import Session

from nbcohort.cohorts.store import Store

__all__ = ["ALONE", "WriteBatcher"]

Body = Callable[[Session], str]

ALONE: Final = object()  # the batch did not commit: run this write on its own


class WriteBatcher:
    """Collects write bodies submitted during one turn of the loop and runs them together."""

    def __init__(self, store: Store, max_batch: int = 64) -> None:
        self.store, self.max_batch = store, max_batch
        self._pending: list[tuple[Body, asyncio.Future[object]]] = []
        self._scheduled = False
        self.batches = self.batched = 0  # how much grouping happened (for tests and stats)

    def submit(self, body: Body) -> asyncio.Future[object]:
        """A future with the body's result, or ALONE when it must be run on its own."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        self._pending.append((body, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
        self._scheduled = bool(self._pending)
        if self._scheduled:
            asyncio.get_running_loop().call_soon(self._flush)
        if len(batch) == 1:  # nothing to share: the usual path, without a second try
            batch[0][1].set_result(ALONE)
            return
        try:
            with self.store.write(wait=False) as session:
                results = [body(session) for body, _ in batch]
        except Exception:  # rolled back whole: each write runs again on its own
            for _, future in batch:
                if not future.done():
                    future.set_result(ALONE)
            return
        self.batches += 1
        self.batched += len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
