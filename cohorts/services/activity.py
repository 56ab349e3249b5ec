"""The append-only activity log that every write also records."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Activity, utcnow

__all__ = ["record", "record_many"]


def record(
    session: Session,
    cohort_id: int,
    member_id: int | None,
    verb: str,
    obj: Any = None,
    **data: Any,
) -> None:
    """Log ``verb`` (e.g. ``post.create``) by ``member_id`` on ``obj`` in the same transaction.

    The row is inserted at once as a plain INSERT: the log is never read back or changed
    in the unit of work that writes it, so it needs no place in the session (one flush
    less on every write).
    """
    if obj is not None and getattr(obj, "id", None) is None:
        session.flush()
    session.connection().execute(
        _INSERT,
        {
            "cohort_id": cohort_id,
            "member_id": member_id,
            "verb": verb,
            "object_type": obj.__tablename__ if obj is not None else "",
            "object_id": getattr(obj, "id", None),
            "data": data,
            "at": utcnow(),
        },
    )


_INSERT = insert(cast(Table, Activity.__table__))


def record_many(session: Session, cohort_id: int, rows: list[dict[str, Any]]) -> None:
    """Log many entries at once (one executemany), each a dict with ``member_id``, ``verb``,
    ``object_type``, ``object_id`` and ``data``: for commands that write in bulk."""
    if not rows:
        return
    at = utcnow()
    session.connection().execute(_INSERT, [{"cohort_id": cohort_id, "at": at, **r} for r in rows])
