"""The append-only activity log that every write also records."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Activity

__all__ = ["record"]


def record(
    session: Session,
    cohort_id: int,
    member_id: int | None,
    verb: str,
    obj: Any = None,
    **data: Any,
) -> Activity:
    """Log ``verb`` (e.g. ``post.create``) by ``member_id`` on ``obj`` in the same transaction."""
    if obj is not None and getattr(obj, "id", None) is None:
        session.flush()
    entry = Activity(
        cohort_id=cohort_id,
        member_id=member_id,
        verb=verb,
        object_type=obj.__tablename__ if obj is not None else "",
        object_id=getattr(obj, "id", None),
        data=data,
    )
    session.add(entry)
    return entry
