"""The outbox table's life cycle: queue a message once, claim it, record how sending went.

A message is decided in full when it is queued (address, subject, bodies, Message-ID) and
named by a ``dedupe_key`` that the database keeps unique, so queueing the same message twice,
from two processes at once, leaves one row. Sending it goes through states, each change its
own committed transaction:

    queued --claim--> sending --sent--> sent
                         |----failed, may retry--> queued (next_attempt_at later, backoff)
                         |----refused for good / out of attempts--> failed
                         '----nothing to send to (unsubscribed, no address)--> skipped

A claim is one conditional UPDATE (on PostgreSQL of a row picked with SKIP LOCKED), so two
senders never hold the same row. While a row is ``sending``, ``next_attempt_at`` is the time
it was claimed. A row still ``sending`` ``sending_timeout`` after its claim belongs to a
sender that died mid-send: it may or may not have reached the server, so it is marked
failed with that said, never resent blindly (``requeue`` is the person's decision).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from tenacity import RetryCallState, wait_exponential

from nbcohort.cohorts.models import OutboxMessage, utcnow

__all__ = [
    "UNKNOWN",
    "backoff_seconds",
    "claim_next",
    "count_due",
    "expire_stuck",
    "insert_messages",
    "mark_failed",
    "mark_retry",
    "mark_sent",
    "mark_skipped",
    "message_id",
    "requeue",
]

UNKNOWN = "unknown outcome"  # how last_error begins for a message that may have been sent
_TABLE = cast(Table, OutboxMessage.__table__)


def message_id(from_address: str) -> str:
    """A new Message-ID on the sender's domain (decided before any attempt, kept for good)."""
    domain = from_address.rpartition("@")[2] or "localhost"
    return make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain)


def insert_messages(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Queue ``rows`` (OutboxMessage columns); a row whose dedupe_key (or Message-ID) is
    already there is left out by the database. Returns how many were queued."""
    if not rows:
        return 0
    now = utcnow()
    values = [
        {
            "state": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": "",
            "created_at": now,
            "body_html": "",
            **row,
        }
        for row in rows
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_TABLE).on_conflict_do_nothing().returning(_TABLE.c.id)
    return len(session.execute(statement, values).all())


def count_due(session: Session, now: datetime | None = None) -> int:
    now = now or utcnow()
    return int(
        session.scalar(
            select(func.count())
            .select_from(_TABLE)
            .where(OutboxMessage.state == "queued", OutboxMessage.next_attempt_at <= now)
        )
        or 0
    )


def claim_next(session: Session, now: datetime | None = None) -> OutboxMessage | None:
    """Take the next due message for this sender (``queued`` -> ``sending``, one more
    attempt, claimed now); None when nothing is due. Commit before sending it."""
    now = now or utcnow()
    pick = (
        select(OutboxMessage.id)
        .where(OutboxMessage.state == "queued", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's writer lock serializes
        .scalar_subquery()
    )
    claimed = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == pick, OutboxMessage.state == "queued")
        .values(state="sending", attempts=OutboxMessage.attempts + 1, next_attempt_at=now)
        .returning(OutboxMessage.id)
    ).scalar()
    return None if claimed is None else session.get(OutboxMessage, claimed)


def _finish(session: Session, row_id: int, **values: Any) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.state == "sending")
        .values(**values)
    )


def mark_sent(session: Session, row_id: int) -> None:
    _finish(session, row_id, state="sent", sent_at=utcnow(), last_error="")


def mark_skipped(session: Session, row_id: int, reason: str) -> None:
    _finish(session, row_id, state="skipped", last_error=reason[:2000])


def mark_failed(session: Session, row_id: int, reason: str) -> None:
    _finish(session, row_id, state="failed", last_error=reason[:2000])


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Seconds before attempt ``attempts + 1``: ``base`` doubled per attempt, at most ``cap``
    (tenacity's exponential wait, applied to the outbox's own clock)."""
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = max(1, attempts)
    return float(wait_exponential(multiplier=base, max=cap)(state))


def mark_retry(
    session: Session, row: OutboxMessage, reason: str, *, max_attempts: int, base: float, cap: float
) -> bool:
    """Back to ``queued`` for a later attempt, or ``failed`` once out of attempts; True if
    it will be tried again."""
    if row.attempts >= max_attempts:
        mark_failed(session, row.id, f"gave up after {row.attempts} attempts: {reason}")
        return False
    wait = backoff_seconds(row.attempts, base, cap)
    _finish(
        session,
        row.id,
        state="queued",
        next_attempt_at=utcnow() + timedelta(seconds=wait),
        last_error=reason[:2000],
    )
    return True


def expire_stuck(session: Session, timeout: timedelta, now: datetime | None = None) -> int:
    """Mark failed the messages whose sender died while sending them (see the module doc)."""
    now = now or utcnow()
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.state == "sending", OutboxMessage.next_attempt_at < now - timeout)
        .values(
            state="failed",
            last_error=f"{UNKNOWN}: the sender stopped while sending it; look for its "
            "Message-ID in the mail server's log before 'nbcohort mail retry'",
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def requeue(session: Session, ids: Iterable[int]) -> int:
    """A person's decision: send failed messages again (attempts start over)."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(list(ids)), OutboxMessage.state == "failed")
        .values(state="queued", attempts=0, next_attempt_at=utcnow(), last_error="")
    )
    return int(getattr(result, "rowcount", 0) or 0)
