"""'I applied this at work': the event behind the time-to-apply metric, for the practices the
course defines (course.toml's [practices], synced into the cohort)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import AppliedPractice, Cohort, Practice, utcnow
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Invalid, NotFound
from nbcohort.cohorts.services.keyed_rows import sync_keyed
from nbcohort.cohorts.services.unique import add_unique

__all__ = ["MAX_NOTE", "applied_status", "clean_practice", "mark_applied", "sync_practices"]

MAX_NOTE = 1000
_PRACTICE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


def clean_practice(practice: str) -> str:
    practice = (practice or "").strip()
    if not _PRACTICE.match(practice):
        raise Invalid(
            f"practice id {practice!r} must be lowercase letters, digits, '.', '_' "
            "or '-' (max 100)",
            field="practice",
        )
    return practice


def _known(session: Session, cohort: Cohort, practice: str) -> Practice:
    """The cohort's practice ``practice``; any other key is noise in the metrics: 404."""
    row = session.scalar(
        select(Practice).where(Practice.cohort_id == cohort.id, Practice.key == practice)
    )
    if row is None:
        raise NotFound(f"no practice {practice!r} in this course", field="practice")
    return row


def sync_practices(
    session: Session, actor: Actor, cohort: Cohort, practices: dict[str, str]
) -> int:
    """Create or retitle the cohort's practices from ``{key: title}`` (course.toml's
    [practices]); returns how many changed."""
    require(actor, "prompt.manage", cohort.id)
    titles = {}
    for key, title in practices.items():
        if not isinstance(title, str) or len(title.strip()) > 200:
            raise Invalid(f"practice {key!r}: a title of at most 200 characters", field=key)
        titles[clean_practice(key)] = title.strip()
    return sync_keyed(
        session, actor, cohort, Practice, titles, column="title", verb="practice.sync"
    )


def applied_status(session: Session, actor: Actor, cohort: Cohort, practice: str) -> dict[str, Any]:
    """Whether the actor applied ``practice``, and how many members of the cohort did."""
    require(actor, "thread.read", cohort.id)
    known = _known(session, cohort, clean_practice(practice))
    practice = known.key
    mine = session.scalar(
        select(AppliedPractice).where(
            AppliedPractice.cohort_id == cohort.id,
            AppliedPractice.member_id == actor.member_id,
            AppliedPractice.practice == practice,
        )
    )
    count = session.scalar(
        select(func.count())
        .select_from(AppliedPractice)
        .where(AppliedPractice.cohort_id == cohort.id, AppliedPractice.practice == practice)
    )
    return {
        "practice": practice,
        "title": known.title,
        "applied": mine is not None,
        "note": mine.note if mine is not None else "",
        "applied_at": mine.created_at.isoformat() if mine is not None else None,
        "count": count or 0,
    }


def mark_applied(
    session: Session, actor: Actor, cohort: Cohort, practice: str, note: object = ""
) -> dict[str, Any]:
    """Record that the actor applied ``practice`` at work; again updates the note only."""
    require(actor, "practice.apply", cohort.id)
    practice = _known(session, cohort, clean_practice(practice)).key
    if not isinstance(note, str):
        raise Invalid("note must be text", field="note")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise Invalid(
            f"a note is limited to {MAX_NOTE} characters; this one has {len(note)}", field="note"
        )
    row, created = add_unique(
        session,
        AppliedPractice(
            cohort_id=cohort.id, member_id=actor.member_id, practice=practice, note=note
        ),
        lambda: session.scalar(
            select(AppliedPractice).where(
                AppliedPractice.member_id == actor.member_id, AppliedPractice.practice == practice
            )
        ),
    )
    if created:
        record(session, cohort.id, actor.member_id, "practice.applied", row, practice=practice)
    elif row.note != note:
        row.note, row.updated_at = note, utcnow()
        record(session, cohort.id, actor.member_id, "practice.note", row, practice=practice)
    session.flush()
    return applied_status(session, actor, cohort, practice)
