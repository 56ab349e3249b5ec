"""Group commit for the hot writes: the ones that arrive in one turn of the event loop share
one SQLite transaction.

Under load, dozens of posts and reactions are parsed in the same turn of the loop. Each
would pay for its own session, ``BEGIN IMMEDIATE``, commit and locks; together they pay
once, a good part of the CPU of a small write. Nothing changes for a member:
every write in a batch is acknowledged only after the batch commits, and a batch that fails
in any way (a refusal, a conflict, a lock held outside nbcohort or for too long) is rolled
back whole and each of its writes runs again on its own, so one member's error is never
another's. A batch that finds another nbcohort writer holding the database waits on the loop.
Only writes whose work is all in the database are batched (running one twice is harmless).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

from sqlalchemy.orm import Session

from nbcohort.cohorts.store import Store, WriterBusy

__all__ = ["ALONE", "WriteBatcher"]

Body = Callable[[Session], object]

ALONE: Final = object()  # the batch did not commit: run this write on its own


class WriteBatcher:
    """Collects write bodies submitted during one turn of the loop and runs them together.

    When another nbcohort writer holds the database (a worker process, a CLI command), the
    batch waits on the loop and tries again every ``pause`` seconds, for up to ``patience``;
    writes arriving meanwhile join it. One poller per process, and no thread: a thread would
    have to share the GIL with the busy loop.
    """

    def __init__(
        self, store: Store, max_batch: int = 64, pause: float = 0.0005, patience: float = 1.0
    ) -> None:
        self.store, self.max_batch = store, max_batch
        self.pause, self.patience = pause, patience
        self._pending: list[tuple[Body, asyncio.Future[object]]] = []
        self._scheduled = False
        self._waiting_since: float | None = None
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
        loop = asyncio.get_running_loop()
        self._scheduled = False
        batch = self._pending[: self.max_batch]
        if len(batch) == 1 and self._waiting_since is None:
            results: list[object] | None = None  # nothing to share: the usual path, run once
        else:
            try:
                with self.store.write(wait=False) as session:
                    results = [body(session) for body, _ in batch]
            except WriterBusy as busy:
                now = loop.time()
                self._waiting_since = self._waiting_since or now
                if busy.queued and now - self._waiting_since < self.patience:
                    self._scheduled = True  # the batch stays first; newcomers join it
                    loop.call_later(self.pause, self._flush)
                    return
                results = None
            except Exception:  # rolled back whole: each write runs again on its own
                results = None
        del self._pending[: len(batch)]
        self._waiting_since = None
        if self._pending and not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        if results is not None:
            self.batches += 1
            self.batched += len(batch)
        for i, (_, future) in enumerate(batch):
            if not future.done():
                future.set_result(ALONE if results is None else results[i])
