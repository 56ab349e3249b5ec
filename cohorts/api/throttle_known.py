"""Who may skip the failed-login throttle, shared by every service process (``known_token``).

Behind the hub's proxy every request comes from one address: while that address is refused
(``throttle.py``), a token valid lately still gets in. Each process remembers the tokens it
saw valid; this table remembers them for all, so a member whose token one replica verified
gets in through another that has never seen it. A token enters the table the first time a
process sees it valid (its digest, never the token), for ``remember_seconds``; the table is
read only for an unknown token from a refused address, and written at most once per token
and process in half that time, after the request that saw it (never on its path).
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from tornado.ioloop import IOLoop

from nbcohort.cohorts.api.units import Units
from nbcohort.cohorts.models import KnownToken, utcnow
from nbcohort.cohorts.services.auth import token_digest

__all__ = ["KnownTokens"]

log = logging.getLogger("nbcohort.service")
_SWEEP = 0.01  # the share of writes that also delete every expired row


class KnownTokens:
    """Digests of tokens valid within ``remember_seconds``, in the shared database."""

    def __init__(self, units: Units, remember_seconds: float = 86_400.0) -> None:
        self.units, self.remember = units, timedelta(seconds=remember_seconds)

    async def knows(self, token: str) -> bool:
        """Whether any process saw ``token`` valid lately."""
        digest = token_digest(token)
        until = await self.units.read(lambda s: self._until(s, digest))
        return until is not None and until > utcnow()

    def remember_later(self, token: str) -> None:
        """Remember ``token`` off the request's path: the request neither waits for this
        write nor fails with it (a locked database, a lost connection); a write that fails
        is logged, and the token is remembered the next time this process first sees it."""
        IOLoop.current().spawn_callback(self._remember, token)

    async def _remember(self, token: str) -> None:
        try:
            await self.saw_valid(token)
        except Exception as exc:  # best effort: it only decides who skips the throttle
            log.warning("could not remember a valid token for the throttle: %s", exc)

    async def saw_valid(self, token: str) -> None:
        """Remember that ``token`` was valid now (unless it is remembered long enough)."""
        digest = token_digest(token)
        until = await self.units.read(lambda s: self._until(s, digest))
        if until is not None and until > utcnow() + self.remember / 2:
            return
        sweep = random.random() < _SWEEP
        await self.units.write(lambda s: self._put(s, digest, sweep))

    @staticmethod
    def _until(session: Session, digest: str) -> datetime | None:
        return session.scalar(select(KnownToken.until).where(KnownToken.digest == digest))

    def _put(self, session: Session, digest: str, sweep: bool) -> None:
        now = utcnow()
        if sweep:
            session.execute(delete(KnownToken).where(KnownToken.until <= now))
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        until = now + self.remember
        session.execute(
            insert(KnownToken)
            .values(digest=digest, until=until)
            .on_conflict_do_update(index_elements=[KnownToken.digest], set_={"until": until})
        )
