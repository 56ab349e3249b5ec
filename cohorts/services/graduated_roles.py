"""What graduation makes of roles, for members who are there on graduation day and for those
who arrive later (a roster import, a member added), so a graduated cohort never gains a
learner: the formal course is over; and the lock on the cohort row that keeps graduating
and whatever it changes (members arriving, review rounds opening) one after the other."""

from __future__ import annotations

from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort

__all__ = ["GRADUATED_ROLES", "arriving_role", "lock_cohort"]

# Learners become alumni; every other role (champions, facilitators, sponsors) stays.
GRADUATED_ROLES = {"learner": "alumni"}


def arriving_role(cohort: Cohort, role: str) -> str:
    """The role a member given ``role`` takes in ``cohort``: what graduation makes of it once
    the cohort has graduated, ``role`` itself before."""
    if cohort.graduated_at is None:
        return role
    return GRADUATED_ROLES.get(role, role)


def lock_cohort(session: Session, cohort_id: int) -> Cohort:
    """The cohort row as committed now, locked until the unit of work ends (PostgreSQL:
    ``FOR NO KEY UPDATE``, which other lockers wait for but rows referring to the cohort do
    not; SQLite serializes writers already). Graduating takes it first, and so does every
    path that asks whether the cohort graduated before it writes, so the answer stays true
    until it commits. Take it before any other row lock (the cohort row first)."""
    # key_share without read is PostgreSQL's FOR NO KEY UPDATE (SQLAlchemy's spelling).
    return session.get_one(
        Cohort, cohort_id, populate_existing=True, with_for_update={"key_share": True}
    )
