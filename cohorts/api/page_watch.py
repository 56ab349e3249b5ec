"""Hearing every thread change from PostgreSQL, so a cached page is served without a query.

Migration 0005 makes the database NOTIFY ``nbcohort_thread`` with ``t<id>`` whenever a
thread's row changes, and every change a thread page shows changes that row. A ``PageWatch``
holds one connection per service process that LISTENs, forgets the kept row of each thread
it hears about, and tells the page cache when its rows can be trusted
(``PageCache.trusted``):

- Its own writes: each write transaction of this process also notifies a marker. The cache
  is trusted only while every write this process has answered has been heard back, so a
  member always reads their own change even when the notice trails the answer.
- Other writers (another service process, the CLI) are heard as soon as the database
  delivers the notice, a few milliseconds after their commit.
- A lost connection: the cache stops trusting and forgets every row at once, so reads check
  the version again until the watch listens again (it reconnects with backoff). After
  ``check_seconds`` without a notice it asks the server something, so a connection that
  died without a word is noticed within twice that.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import secrets
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from nbcohort.cohorts.services.pages import PageCache

__all__ = ["CHANNEL", "PageWatch"]

log = logging.getLogger("nbcohort.service")
CHANNEL = "nbcohort_thread"  # the channel migration 0005 notifies
_MAX_EARLY = 10_000


class PageWatch:
    """LISTENs for thread changes for one service process (see the module's docstring)."""

    def __init__(self, conninfo: str, cache: PageCache, check_seconds: float = 5.0) -> None:
        self.conninfo, self.cache, self.check_seconds = conninfo, cache, check_seconds
        cache.keeps_threads = True
        self.notices = 0  # thread notices heard
        self._prefix = ""  # this process's markers: set by start, after any fork
        self._seq = itertools.count(1)
        self._listening_from = 0  # markers issued before the current LISTEN are not awaited
        self._unheard: dict[int, float] = {}  # answered writes not heard back -> when
        self._early: set[int] = set()  # markers heard before their write was answered
        self._live = False
        self._task: asyncio.Task[None] | None = None
        self.on_thread: Callable[[int], None] | None = None  # live watches: a thread changed

    @classmethod
    def for_engine(cls, engine: Engine, cache: PageCache, **kw: Any) -> PageWatch | None:
        """A watch on ``engine``'s database, or None where there is nothing to listen to
        (SQLite) or no psycopg 3 to listen with."""
        if engine.dialect.name != "postgresql":
            return None
        try:
            from psycopg.conninfo import make_conninfo
        except ImportError:  # psycopg2 only
            log.info("install psycopg 3 to serve cached thread pages without a query")
            return None
        _args, params = engine.dialect.create_connect_args(engine.url)
        params = {k: v for k, v in params.items() if isinstance(v, str | int)}
        params["application_name"] = "nbcohort page watch"
        return cls(make_conninfo("", **params), cache, **kw)

    # -- called on the event loop by the service ----------------------------------------------
    def start(self) -> None:
        """Listen in a task of the running event loop until ``stop``."""
        if self._task is None:
            self._prefix = f"w{os.getpid()}.{secrets.token_hex(4)}:"
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def marker(self) -> int:
        """A number for a write about to run: ``mark`` it in the write's transaction and call
        ``answered`` with it once it has committed."""
        return next(self._seq)

    def mark(self, session: Session, marker: int) -> None:
        """Notify the marker in the write's transaction: heard with its commit, after the
        thread notices of that same transaction."""
        # A literal NOTIFY (the payload is ours: letters, digits, '.' and ':'): cheaper for a
        # write than SELECT pg_notify(...) through the ORM (tests/bench/README.md).
        session.connection().exec_driver_sql(f"NOTIFY {CHANNEL}, '{self._prefix}{marker}'")

    def answered(self, marker: int) -> None:
        """The write carrying ``marker`` committed: trust no row until it is heard back."""
        if marker < self._listening_from:
            # Issued before this LISTEN: its notice may never come (it committed before we
            # listened, and every row kept since was read after that), or comes as any other.
            return
        if marker in self._early:
            self._early.discard(marker)
        else:
            self._unheard[marker] = time.monotonic()
            self._update()

    @property
    def live(self) -> bool:
        return self._live

    # -- the listening task ---------------------------------------------------------------------
    async def _run(self) -> None:
        import psycopg  # the postgres extra's

        retrying = AsyncRetrying(
            retry=retry_if_exception_type((psycopg.Error, OSError, TimeoutError)),
            wait=wait_exponential(multiplier=0.1, max=5),
            before_sleep=lambda state: log.warning(
                "page watch: lost the database (%s); cached pages are checked until it is back",
                state.outcome.exception() if state.outcome else "?",
            ),
        )
        async for attempt in retrying:
            with attempt:
                await self._listen(psycopg)

    async def _listen(self, psycopg: Any) -> None:
        conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        try:
            await conn.execute(f"LISTEN {CHANNEL}")
            # Rows kept so far may have missed a notice: forget them all, then trust.
            self._listening_from = next(self._seq)
            self._unheard.clear()
            self._early.clear()
            self.cache.forget_thread()
            self._live = True
            self._update()
            while True:
                async for notice in conn.notifies(timeout=self.check_seconds):
                    self._heard(notice.payload)
                await asyncio.wait_for(conn.execute("SELECT 1"), self.check_seconds)
                self._give_up_on_lost_markers()
        finally:
            self._live = False
            self._update()
            self.cache.forget_thread()
            await conn.close()

    def _heard(self, payload: str) -> None:
        ours = payload.startswith(self._prefix)  # other processes' markers are theirs
        if not (payload.startswith("t") or ours):
            return
        try:
            number = int(payload[len(self._prefix) if ours else 1 :])
        except ValueError:  # not ours to read: to be safe, trust no kept row
            log.warning("page watch: unexpected notice %r on %s", payload, CHANNEL)
            self.cache.forget_thread()
            return
        if not ours:
            self.notices += 1
            self.cache.forget_thread(number)
            if self.on_thread is not None:
                self.on_thread(number)
        elif self._unheard.pop(number, None) is not None:
            self._update()
        elif number >= self._listening_from:
            if len(self._early) >= _MAX_EARLY:  # writes that failed after committing
                self._early.discard(min(self._early))
            self._early.add(number)

    def _give_up_on_lost_markers(self) -> None:
        """A marker not heard back long after its commit (it should take milliseconds):
        trust again, having forgotten every row that write could have made stale."""
        if self._unheard and min(self._unheard.values()) < time.monotonic() - self.check_seconds:
            log.warning("page watch: a write's notice never came back; forgetting kept threads")
            self._unheard.clear()
            self.cache.forget_thread()
            self._update()

    def _update(self) -> None:
        self.cache.trusted = self._live and not self._unheard
