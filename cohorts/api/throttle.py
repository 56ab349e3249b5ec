"""Failed token attempts, counted per client address in the database (``failed_login``).

Past ``limit`` failures within ``window`` seconds, an address is refused (429, Retry-After)
for any wrong token, and no longer counted. Members still get in from there (a JupyterHub
proxy is one address for everyone): a local token is checked, which costs what refusing
it would; a token valid lately on any service process is let through (``throttle_known.py``);
and any other hub token goes to the hub one at a time through ``HubLane``.

The count is shared by every service process on the database: with several replicas behind
the hub's proxy an attacker gets the same number of tries as with one, not one allowance per
replica. One row per failure, the window's rows only: a failure deletes its address's rows
that have left the window (and, now and then, everyone's), and an address that is refused is
not counted again, so an address holds at most about ``limit`` rows. Only a request whose
token the service does not recognise reads the table; members' requests never do.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import AsyncIterator
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.api.units import Units
from nbcohort.cohorts.models import FailedLogin, utcnow

__all__ = ["FailedAttempts", "HubLane"]

_ADDRESS = 64  # the column's length: an IPv6 address with a zone fits
_SWEEP = 0.01  # the share of failures that also delete every address's old rows


class FailedAttempts:
    """Sliding-window counts of failed token attempts per address, in the shared database."""

    def __init__(self, units: Units, limit: int, window: float) -> None:
        self.units, self.limit, self.window = units, limit, window

    async def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try an unknown token again; None when it may now."""
        if self.limit <= 0:
            return None
        return await self.units.read(lambda s: self._retry_after(s, address[:_ADDRESS]))

    def _retry_after(self, session: Session, address: str) -> int | None:
        now = utcnow()
        times = session.scalars(
            select(FailedLogin.at)
            .where(FailedLogin.address == address, FailedLogin.at > now - self._span())
            .order_by(FailedLogin.at.desc())
            .limit(self.limit)
        ).all()
        if len(times) < self.limit:
            return None
        left = (times[-1] + self._span() - now).total_seconds()  # the oldest of the last few
        return max(1, math.ceil(left))

    async def failed(self, address: str) -> None:
        """Count one failed attempt from ``address``."""
        if self.limit <= 0:
            return
        sweep = random.random() < _SWEEP
        await self.units.write(lambda s: self._failed(s, address[:_ADDRESS], sweep))

    def _failed(self, session: Session, address: str, sweep: bool) -> None:
        now = utcnow()
        old = FailedLogin.at <= now - self._span()
        session.execute(
            delete(FailedLogin).where(old if sweep else (old & (FailedLogin.address == address)))
        )
        session.add(FailedLogin(address=address, at=now))

    def _span(self) -> timedelta:
        return timedelta(seconds=self.window)


class HubLane:
    """How hub tokens from a refused address still reach the hub: one check at a time in
    this process, and at most ``room`` waiting; past that, 429 for a few seconds.

    Behind JupyterHub's proxy everyone shares one address, so refusing that address's
    unknown tokens outright let anyone lock out every server that had just started (its
    new token is unknown) with twenty junk tokens a minute. Checking a hub token means
    asking the hub, so the lane bounds what a refused address can ask of it; keeping a
    member out now takes a flood sustained for as long as they are kept out.
    """

    def __init__(self, room: int = 8) -> None:
        self.room = room
        self._turn = asyncio.Lock()
        self._inside = 0  # waiting, and the one being checked

    @contextlib.asynccontextmanager
    async def through(self) -> AsyncIterator[bool]:
        """``async with lane.through() as admitted:`` one at a time; False when full."""
        if self._inside >= self.room:
            yield False
            return
        self._inside += 1
        try:
            async with self._turn:
                yield True
        finally:
            self._inside -= 1
