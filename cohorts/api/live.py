"""Watches that wait for a change: the service side of live widgets.

A kernel sends the marks of everything its widgets show (``services/live.py``) and the
service answers as soon as one differs, or with nothing after the wait. Waiting costs the
service a parked request, no query: while any watch waits, ONE check compares the marks of
every waiting watch, in one query per cohort and one for notifications. A check runs

- at once (coalesced) after each write this process answers (``Units.on_write``),
- at once when the PostgreSQL page watch hears a thread change by any process,
- every ``LiveSettings.check_seconds`` otherwise, for writes by other processes (the CLI,
  the cadence tick, another service process on SQLite).

Checks run on the event loop like every read; they stop when nothing waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from nbcohort.cohorts.api.answers import Refusal
from nbcohort.cohorts.api.units import Units
from nbcohort.cohorts.config import LiveSettings
from nbcohort.cohorts.services.live import notification_marks, thread_versions

__all__ = ["LiveWatches", "Waiter", "changes"]

log = logging.getLogger("nbcohort.service")
_COALESCE_SECONDS = 0.05  # writes in a burst wake one check


@dataclass(eq=False)
class Waiter:
    """One parked watch: the marks a kernel has, answered through ``future``."""

    cohort_id: int
    member_id: int | None
    threads: dict[str, int]
    notifications: str | None
    future: asyncio.Future[dict[str, Any]] = field(repr=False)


def changes(waiter: Waiter, state: dict[str, Any]) -> dict[str, Any]:
    """What differs between ``waiter``'s marks and ``state`` (empty when nothing does)."""
    versions = state["threads"]
    out: dict[str, Any] = {}
    threads = {
        a: versions[a] for a, v in waiter.threads.items() if a in versions and versions[a] != v
    }
    if threads:
        out["threads"] = threads
    mark = state.get("notifications")
    if waiter.notifications is not None and mark is not None and mark != waiter.notifications:
        out["notifications"] = mark
    return out


class LiveWatches:
    """The watches parked in one service process (see the module's docstring)."""

    def __init__(self, units: Units, settings: LiveSettings) -> None:
        self.units, self.settings = units, settings
        self.waiting: set[Waiter] = set()
        self.checks = 0  # checks run (the benchmark reads it)
        self._per_member: dict[int, int] = defaultdict(int)
        self._poke: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        """Something changed: check soon (cheap to call on every write)."""
        if self._poke is not None and self.waiting:
            self._poke.set()

    async def wait(self, waiter: Waiter, seconds: float) -> dict[str, Any]:
        """Park ``waiter`` until its marks change or ``seconds`` pass: the changes, or {}."""
        member = waiter.member_id
        if member is not None:
            if self._per_member[member] >= self.settings.max_watches_per_member:
                raise Refusal(
                    429,
                    "too_many_watches",
                    f"{self.settings.max_watches_per_member} watches are open for you already "
                    "(LiveSettings.max_watches_per_member); close a notebook or wait",
                    retry_after=int(self.settings.max_wait_seconds) + 1,
                )
            self._per_member[member] += 1
        self.waiting.add(waiter)
        self._ensure_running()
        try:
            return await asyncio.wait_for(asyncio.shield(waiter.future), seconds)
        except TimeoutError:
            return {}
        finally:
            self.waiting.discard(waiter)
            if member is not None:
                self._per_member[member] -= 1
                if self._per_member[member] <= 0:
                    del self._per_member[member]

    def stop(self) -> None:
        """Answer every parked watch with nothing (the service is stopping)."""
        for waiter in list(self.waiting):
            if not waiter.future.done():
                waiter.future.set_result({})
        if self._task is not None:
            self._task.cancel()
            self._task = None

    # -- the check loop -----------------------------------------------------------------------
    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._poke = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        poke = self._poke
        assert poke is not None
        while self.waiting:
            try:
                await asyncio.wait_for(poke.wait(), self.settings.check_seconds)
                await asyncio.sleep(_COALESCE_SECONDS)
            except TimeoutError:
                pass
            poke.clear()
            if not self.waiting:
                break
            try:
                await self.check()
            except Exception:  # a database hiccup: the next check tries again
                log.warning("live watches: a check failed", exc_info=True)

    async def check(self) -> int:
        """Compare every waiting watch with the database; answer those that changed."""
        waiters = [w for w in self.waiting if not w.future.done()]
        if not waiters:
            return 0
        anchors: dict[int, set[str]] = defaultdict(set)
        members: set[int] = set()
        for w in waiters:
            anchors[w.cohort_id].update(w.threads)
            if w.notifications is not None and w.member_id is not None:
                members.add(w.member_id)

        def read(session: Session) -> tuple[dict[int, dict[str, int]], dict[int, str]]:
            versions = {c: thread_versions(session, c, a) for c, a in anchors.items() if a}
            return versions, notification_marks(session, members) if members else {}

        versions, marks = await self.units.read(read)
        self.checks += 1
        answered = 0
        for w in waiters:
            state = {
                "threads": versions.get(w.cohort_id, {}),
                "notifications": marks.get(w.member_id) if w.member_id is not None else None,
            }
            found = changes(w, state)
            if found and not w.future.done():
                w.future.set_result(found)
                answered += 1
        return answered
