"""A member's own progress in each peer-review round: how many reviews they were given and
how many they submitted. Only the viewer's own allocations, never another reviewer's, and
nothing about the work under review (its author, its scores)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Allocation, Cohort, Review, ReviewRound
from nbcohort.cohorts.services.auth import Actor, require

__all__ = ["my_review_progress"]

_LIVE = ("assigned", "submitted")  # reassigned and withdrawn allocations are not theirs now


def my_review_progress(session: Session, actor: Actor, cohort: Cohort) -> list[dict[str, Any]]:
    """The viewer's rounds, newest first: assignment, state, due date, reviews given and
    submitted. Empty for someone who is not a member (the local administrator)."""
    require(actor, "cohort.read", cohort.id)
    if actor.member_id is None:
        return []
    submitted = func.count(Review.id).filter(Review.draft.is_(False))
    rows = session.execute(
        select(ReviewRound, func.count(Allocation.id).label("given"), submitted.label("done"))
        .join(Allocation, Allocation.round_id == ReviewRound.id)
        .outerjoin(Review, Review.allocation_id == Allocation.id)
        .where(
            ReviewRound.cohort_id == cohort.id,
            Allocation.reviewer_id == actor.member_id,
            Allocation.status.in_(_LIVE),
        )
        .group_by(ReviewRound.id)
        .order_by(ReviewRound.opened_at.desc(), ReviewRound.id.desc())
    ).all()
    return [
        {
            "assignment": rnd.assignment,
            "status": rnd.status,
            "due_at": rnd.due_at.isoformat() if rnd.due_at else None,
            "reviews_given": int(given),
            "reviews_submitted": int(done),
        }
        for rnd, given, done in rows
    ]
