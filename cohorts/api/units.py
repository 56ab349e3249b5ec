"""Where a request's unit of work runs, so a handler never has to know.

``Units.read(body)`` and ``Units.write(body, batch=...)`` run ``body(session)`` in one unit of
work and return what it returns. Reads run on the event loop: they never wait for a lock, and
a thread hop per read costs more under load than the read itself. Writes run on the loop too
when the database is free at once, and otherwise wait for the lock on the writer thread, so a
waiting write never stalls the reads behind it:

- a write that can share a transaction (``batch``: its work is all in the database) joins
  the others that arrive in the same turn of the loop (``group_commit.py``, SQLite);
- a write that finds another nbcohort writer busy (another process, a CLI command) tries
  again on the loop for a moment, then waits on the writer thread;
- a server database (PostgreSQL) cannot say how long it would wait: its writes go to the
  writer thread at once;
- a write whose own work is slow (``off_loop``: vetting and storing a whole exchange
  archive) goes to the writer thread at once too, so the loop keeps answering meanwhile;
- on PostgreSQL with the page watch, each write notifies a marker in its own transaction,
  so this process trusts no kept page until it has heard its own write back
  (``page_watch.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy.orm import Session
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)
from tornado.ioloop import IOLoop

from nbcohort.cohorts.api.group_commit import ALONE, WriteBatcher
from nbcohort.cohorts.api.page_watch import PageWatch
from nbcohort.cohorts.store import Store, WriterBusy

__all__ = ["Units"]

T = TypeVar("T")
_INLINE_RETRY_SECONDS = 0.05


def _another_nbcohort_writer(exc: BaseException) -> bool:
    return isinstance(exc, WriterBusy) and exc.queued


class Units:
    """Runs the service's units of work over one store (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        executor: ThreadPoolExecutor | None,
        batcher: WriteBatcher | None = None,
        watch: PageWatch | None = None,
    ) -> None:
        self.store, self.executor, self.batcher, self.watch = store, executor, batcher, watch
        self.on_write: Callable[[], None] | None = None  # live watches check after each write

    async def read(self, body: Callable[[Session], T]) -> T:
        def unit() -> T:
            with self.store.read() as session:
                return body(session)

        return self.store.run(unit)

    async def write(
        self, body: Callable[[Session], T], *, batch: bool = False, off_loop: bool = False
    ) -> T:
        watch = self.watch
        if watch is None:
            result = await self._schedule(body, batch, off_loop)
            if self.on_write is not None:
                self.on_write()
            return result
        marker = watch.marker()

        def marked(session: Session) -> T:
            result = body(session)
            watch.mark(session, marker)  # heard back with this commit
            return result

        result = await self._schedule(marked, batch, off_loop)
        watch.answered(marker)
        if self.on_write is not None:
            self.on_write()
        return result

    async def _schedule(self, body: Callable[[Session], T], batch: bool, off_loop: bool) -> T:
        if batch and not off_loop and self.batcher is not None:
            grouped = await self.batcher.submit(body)
            if grouped is not ALONE:
                return grouped  # type: ignore[return-value]
        return await self._alone(body, off_loop)

    async def _alone(self, body: Callable[[Session], T], off_loop: bool = False) -> T:
        def unit(wait: bool) -> T:
            with self.store.write(wait=wait) as session:
                return body(session)

        store, executor = self.store, self.executor
        if executor is None:
            return store.run(unit, True)
        if off_loop:
            return await IOLoop.current().run_in_executor(executor, store.run, unit, True)
        try:
            return store.run(unit, False)
        except WriterBusy as busy:
            if not busy.queued:
                return await IOLoop.current().run_in_executor(executor, store.run, unit, True)
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_delay(_INLINE_RETRY_SECONDS),
                wait=wait_exponential(multiplier=0.0005, max=0.004),
                retry=retry_if_exception(_another_nbcohort_writer),
            ):
                with attempt:
                    return store.run(unit, False)
        except (RetryError, WriterBusy):
            pass
        return await IOLoop.current().run_in_executor(executor, store.run, unit, True)

    def close(self) -> None:
        """Let writes on the writer thread finish."""
        if self.executor is not None:
            self.executor.shutdown(wait=True)
