"""What the rhythm reads back from a cohort's applied cohort file (``cohort_apply.py``
writes it): the checked file is kept in ``Cohort.settings`` under named keys, so every part
reads the same values: ``rhythm`` (the whole file, what the cadence, onboarding and calendar
use), ``rhythm_prompts`` (the course's micro-prompts in their order), ``digest`` and
``notifications`` (for the email side), ``facilitators`` and ``cohort_file`` (where it came
from and its SHA-256). Light on imports: the cadence tick loads it every minute.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.cohort_file import CohortFile, from_stored
from nbcohort.cohorts.local_time import at_local, in_zone
from nbcohort.cohorts.models import Cohort, Member

__all__ = [
    "community_rhythm",
    "course_prompt_order",
    "course_until",
    "facilitator",
    "plan_window",
    "rhythm_of",
]


def rhythm_of(cohort: Cohort) -> CohortFile | None:
    """The cohort file applied to ``cohort``, or None for a cohort without one."""
    raw = (cohort.settings or {}).get("rhythm")
    return from_stored(CohortFile, raw) if raw else None


def community_rhythm(spec: CohortFile) -> CohortFile:
    """The cohort file as the rhythm reads it after graduation: the community's cadence in
    place of the course's."""
    if spec.community is None:
        return spec
    return spec.model_copy(update={"cadence": spec.community.cadence})


def course_until(spec: CohortFile, last: date) -> CohortFile:
    """The file with the course's cadence ending on ``last`` at the latest (graduation day):
    the course's routines stay in the calendar up to then, and end."""
    until = spec.cadence.until
    if until is not None and until <= last:
        return spec
    return spec.model_copy(update={"cadence": spec.cadence.model_copy(update={"until": last})})


def course_prompt_order(cohort: Cohort) -> list[str]:
    return list((cohort.settings or {}).get("rhythm_prompts", []))


def plan_window(spec: CohortFile, now: datetime, horizon_days: int) -> tuple[datetime, datetime]:
    """The window the plan keeps filled: from now until ``horizon_days`` past now, or past
    the cohort's first day when it has not begun."""
    first = at_local(spec.cohort.starts_on, datetime.min.time(), in_zone(spec.cohort.timezone))
    return now, max(now, first) + timedelta(days=horizon_days)


def facilitator(session: Session, cohort: Cohort, spec: CohortFile) -> Member | None:
    """Who the rhythm posts as: the first facilitator of the cohort file who is an active
    member, else the cohort's first active facilitator or instructor."""
    names = [n.strip().lower() for n in spec.cohort.facilitators]
    base = select(Member).where(Member.cohort_id == cohort.id, Member.active.is_(True))
    if names:
        found = {
            key: m
            for m in session.scalars(
                base.where(or_(Member.username.in_(names), Member.email.in_(names)))
            )
            for key in (m.username.lower(), (m.email or "").lower())
        }
        for name in names:
            if name in found:
                return found[name]
    staff = base.where(Member.role.in_(("facilitator", "instructor"))).order_by(Member.id)
    return session.scalars(staff.limit(1)).first()
