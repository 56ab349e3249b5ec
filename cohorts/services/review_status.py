"""Where a review round stands, for the instructor, between open and close: reviews done per
submission, work left per reviewer, problems reported at collection and reviewers'
helpfulness ratings; and the reminder to those with work left (logged as review.remind).
The steps that change a round are ``review_rounds``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from nbcohort.cohorts.models import (
    Allocation,
    Cohort,
    Member,
    Notification,
    Review,
    ReviewRound,
    ReviewSubmission,
    utcnow,
)
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Conflict
from nbcohort.cohorts.services.review_rounds import effective_due, find_round

__all__ = ["remind_reviewers", "round_status"]


def round_status(session: Session, actor: Actor, rnd: ReviewRound) -> dict[str, Any]:
    """Where the round stands: per submission reviews done, per reviewer work left, problems
    reported at collection, and reviewer reputation from authors' helpfulness ratings."""
    require(actor, "review.run", rnd.cohort_id)
    now = utcnow()
    allocations = session.scalars(
        select(Allocation)
        .options(joinedload(Allocation.submission), joinedload(Allocation.reviewer))
        .where(Allocation.round_id == rnd.id)
        .order_by(Allocation.id)
    ).all()
    reviews = {
        r.allocation_id: r
        for r in session.scalars(
            select(Review).join(Allocation).where(Allocation.round_id == rnd.id)
        )
    }
    members = {
        m.id: m for m in session.scalars(select(Member).where(Member.cohort_id == rnd.cohort_id))
    }
    subs: dict[int, dict[str, Any]] = {}
    for sub in session.scalars(select(ReviewSubmission).where(ReviewSubmission.round_id == rnd.id)):
        author = members.get(sub.author_id) if sub.author_id else None
        subs[sub.id] = {
            "id": sub.id,
            "kind": sub.kind,
            "author": author.username if author else "(calibration)",
            "reviews_done": 0,
            "reviews_assigned": 0,
            "problems": list(sub.problems),
            "result": sub.result,
            "override": sub.override,
        }
    reviewers: dict[int, dict[str, Any]] = {}
    for alloc in allocations:
        review = reviews.get(alloc.id)
        done = review is not None and not review.draft
        entry = subs[alloc.submission_id]
        if alloc.kind == "peer" and alloc.status in ("assigned", "submitted"):
            entry["reviews_assigned"] += 1
            entry["reviews_done"] += int(done)
        who = reviewers.setdefault(
            alloc.reviewer_id,
            {
                "username": alloc.reviewer.username,
                "active": alloc.reviewer.active,
                "assigned": 0,
                "done": 0,
                "late": 0,
                "helpfulness": [],
            },
        )
        if alloc.status in ("assigned", "submitted"):
            who["assigned"] += 1
            who["done"] += int(done)
            due = effective_due(rnd, alloc)
            who["late"] += int(not done and due is not None and due < now)
        if review is not None and review.helpfulness is not None:
            who["helpfulness"].append(review.helpfulness)
    for who in reviewers.values():
        rated = who.pop("helpfulness")
        who["helpfulness"] = round(sum(rated) / len(rated), 2) if rated else None
        who["ratings"] = len(rated)
    flexible = (
        rnd.due_at + timedelta(hours=float(rnd.settings.get("flexible_after_hours", 48)))
        if rnd.due_at
        else None
    )
    return {
        "assignment": rnd.assignment,
        "status": rnd.status,
        "k": rnd.reviewers_per_submission,
        "due_at": rnd.due_at.isoformat() if rnd.due_at else None,
        "flexible_at": flexible.isoformat() if flexible else None,
        "submissions": sorted(subs.values(), key=lambda s: s["author"]),
        "reviewers": sorted(reviewers.values(), key=lambda r: r["username"]),
        "excluded": dict(rnd.settings.get("excluded", {})),
    }


def remind_reviewers(
    session: Session, actor: Actor, cohort: Cohort, assignment: str
) -> dict[str, int]:
    """Notify each active reviewer who still has reviews to submit; returns who, how many."""
    rnd = find_round(session, actor, cohort, assignment)
    require(actor, "review.run", cohort.id)
    if rnd.status != "open":
        raise Conflict(f"the review round for {assignment!r} is {rnd.status}")
    rows = session.execute(
        select(Member, Allocation.id)
        .join(Allocation, Allocation.reviewer_id == Member.id)
        .where(
            Allocation.round_id == rnd.id,
            Allocation.status == "assigned",
            Member.active.is_(True),
        )
    ).all()
    pending: dict[int, tuple[Member, int]] = {}
    for member, _alloc in rows:
        pending[member.id] = (member, pending.get(member.id, (member, 0))[1] + 1)
    for member, _count in pending.values():
        session.add(Notification(member_id=member.id, kind="review", post_id=None))
    record(session, cohort.id, actor.member_id, "review.remind", rnd, reviewers=len(pending))
    return {member.username: count for member, count in pending.values()}
