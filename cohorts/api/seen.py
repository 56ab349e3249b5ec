"""Members' last visits, kept fresh without a write per request.

Each request notes its member in memory (a set add). At most once per
``ServiceSettings.seen_every_seconds`` (the first time that long after the process starts) a
process writes every member it noted since, in one UPDATE, and a member written less than
that long ago is not noted again. So reads stay reads: a busy process adds one small write a
few times an hour, whatever the number of requests. The write never waits for a member's:
on SQLite it is tried once without waiting and otherwise left to the next interval; on
PostgreSQL it takes its turn on the writer thread. Last visits decide who gets a digest
(``nbcohort mail digest``), which only needs them to the hour.
"""

from __future__ import annotations

import logging
import time

from nbcohort.cohorts.api.units import Units
from nbcohort.cohorts.services.members import note_visits

__all__ = ["SeenMembers"]

log = logging.getLogger("nbcohort.service")


class SeenMembers:
    def __init__(self, every_seconds: float) -> None:
        self.every = every_seconds
        self._pending: set[int] = set()
        self._written: dict[int, float] = {}
        self._next_write = time.monotonic() + every_seconds
        self._writing = False

    def saw(self, member_id: int) -> bool:
        """Note a request by ``member_id``; True when it is time to write what was noted."""
        now = time.monotonic()
        last = self._written.get(member_id)
        if last is None or now - last >= self.every:
            self._pending.add(member_id)
        return bool(self._pending) and now >= self._next_write and not self._writing

    async def write(self, units: Units) -> None:
        """Write the noted members' visits in one statement (never raises into a request)."""
        now = time.monotonic()
        ids = sorted(self._pending)
        self._pending.clear()
        self._next_write = now + self.every
        for member_id in ids:
            self._written[member_id] = now
        if not ids:
            return
        self._writing = True
        try:
            if units.store.is_sqlite:
                with units.store.write(wait=False) as session:  # never queues behind members
                    note_visits(session, ids)
            else:
                await units.write(lambda session: note_visits(session, ids))
        except Exception:  # busy or lost: noted again by their next request
            log.info("last visits of %d members left for the next interval", len(ids))
            for member_id in ids:
                self._written.pop(member_id, None)
        finally:
            self._writing = False
