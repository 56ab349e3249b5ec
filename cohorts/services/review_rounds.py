"""Review rounds as the instructor runs them: every step of a round's life is recorded here,
checked (who may, in which state) and logged, in the caller's one transaction. Opens:
``create_round``; changes: ``add_allocations``, ``withdraw_allocations``, ``move_allocation``;
closes: ``close_round``; afterwards: ``reopen_round``, ``set_override``. Where a round stands
is ``review_status``; members' part (inbox, reviews) is ``reviews``.

The exchange (``nbcohort.exchange``: nbgrader collection, allocation, packets, aggregation)
computes and calls these; its package docstring maps a round's life step by step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from nbcohort.cohorts.models import (
    Allocation,
    Cohort,
    Member,
    Review,
    ReviewRound,
    ReviewSubmission,
    Rubric,
    utcnow,
)
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Conflict, Invalid, NotFound
from nbcohort.cohorts.services.graduation import refuse_after_graduation
from nbcohort.cohorts.services.notifications import notify_members, notify_reviewers

__all__ = [
    "NewSubmission",
    "add_allocations",
    "close_round",
    "create_round",
    "find_round",
    "move_allocation",
    "observations",
    "reopen_round",
    "set_override",
    "withdraw_allocations",
]


@dataclass
class NewSubmission:
    """A snapshotted submission to enter into a round (no author: a calibration item)."""

    author_id: int | None
    snapshot: str
    sha256: str = ""
    submitted_at: datetime | None = None
    problems: list[str] = field(default_factory=list)
    kind: str = "peer"
    known_scores: dict[str, float] | None = None

    def row(self, round_id: int) -> ReviewSubmission:
        """The store row of this submission in round ``round_id``."""
        return ReviewSubmission(
            round_id=round_id,
            author_id=self.author_id,
            kind=self.kind,
            snapshot=self.snapshot,
            sha256=self.sha256,
            submitted_at=self.submitted_at,
            problems=list(self.problems),
            known_scores=self.known_scores,
        )


def find_round(session: Session, actor: Actor, cohort: Cohort, assignment: str) -> ReviewRound:
    require(actor, "review.take", cohort.id)
    rnd = session.scalar(
        select(ReviewRound).where(
            ReviewRound.cohort_id == cohort.id, ReviewRound.assignment == assignment
        )
    )
    if rnd is None:
        raise NotFound(f"no review round for {assignment!r} in {cohort.slug}", field="assignment")
    return rnd


def create_round(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    *,
    assignment: str,
    criteria: list[dict[str, Any]],
    settings: dict[str, Any],
    reviewers: int,
    seed: int,
    due_at: datetime,
    folder: str,
    submissions: Sequence[NewSubmission],
    pairs: Sequence[tuple[int, int, str, str]],
) -> ReviewRound:
    """Enter a round: ``pairs`` are (reviewer member id, index into ``submissions``, kind,
    packet). A second round for the same assignment is a Conflict, also when two instructors
    race (the unique constraint decides)."""
    require(actor, "review.run", cohort.id)
    refuse_after_graduation(session, cohort.id, "no review round can open")
    if due_at <= utcnow():
        raise Invalid(f"the due date {due_at:%Y-%m-%d %H:%M %Z} has passed", field="due")
    existing = session.scalar(
        select(ReviewRound.status).where(
            ReviewRound.cohort_id == cohort.id, ReviewRound.assignment == assignment
        )
    )
    if existing is not None:
        raise _already(assignment, existing)
    version = session.scalar(
        select(Rubric.version)
        .where(Rubric.cohort_id == cohort.id, Rubric.assignment == assignment)
        .order_by(Rubric.version.desc())
        .limit(1)
    )
    rubric = Rubric(
        cohort_id=cohort.id, assignment=assignment, criteria=criteria, version=(version or 0) + 1
    )
    rnd = ReviewRound(
        cohort_id=cohort.id,
        assignment=assignment,
        rubric=rubric,
        status="open",
        reviewers_per_submission=reviewers,
        seed=seed,
        due_at=due_at,
        settings=settings,
        folder=folder,
    )
    try:
        with session.begin_nested():
            session.add(rnd)
            session.flush()
    except IntegrityError:
        raise _already(assignment, "open") from None
    rows = [sub.row(rnd.id) for sub in submissions]
    session.add_all(rows)
    session.flush()
    session.add_all(
        Allocation(
            round_id=rnd.id,
            reviewer_id=reviewer,
            submission_id=rows[index].id,
            kind=kind,
            packet=packet,
        )
        for reviewer, index, kind, packet in pairs
    )
    notify_reviewers(session, rnd.assignment, [reviewer for reviewer, *_rest in pairs], due_at)
    record(
        session,
        cohort.id,
        actor.member_id,
        "review.open",
        rnd,
        assignment=assignment,
        submissions=len(rows),
        allocations=len(pairs),
    )
    return rnd


def _already(assignment: str, status: str) -> Conflict:
    hint = (
        f"nbcohort review reopen {assignment} --due ..."
        if status == "closed"
        else f"nbcohort review status {assignment}"
    )
    return Conflict(
        f"a review round for {assignment!r} is already {status}; see `{hint}`", field="assignment"
    )


def add_allocations(
    session: Session,
    actor: Actor,
    rnd: ReviewRound,
    *,
    submissions: Sequence[NewSubmission] = (),
    pairs: Sequence[tuple[int, int | str, str, str]] = (),
    due_at: datetime | None = None,
) -> list[Allocation]:
    """Add late submissions and allocations. In ``pairs`` the submission is an existing
    submission id (int) or ``"new:<index>"`` into ``submissions``."""
    require(actor, "review.run", rnd.cohort_id)
    _must_be_open(rnd)
    new = [s.row(rnd.id) for s in submissions]
    session.add_all(new)
    session.flush()
    out = []
    for reviewer, target, kind, packet in pairs:
        sub_id = new[int(target[4:])].id if isinstance(target, str) else target
        out.append(
            Allocation(
                round_id=rnd.id,
                reviewer_id=reviewer,
                submission_id=sub_id,
                kind=kind,
                packet=packet,
                due_at=due_at,
            )
        )
    session.add_all(out)
    session.flush()
    notify_reviewers(session, rnd.assignment, [a.reviewer_id for a in out], due_at or rnd.due_at)
    if out or new:
        record(
            session,
            rnd.cohort_id,
            actor.member_id,
            "review.allocate",
            rnd,
            submissions=len(new),
            allocations=len(out),
        )
    return out


def move_allocation(
    session: Session,
    actor: Actor,
    allocation: Allocation,
    reviewer_id: int,
    packet: str,
    due_at: datetime,
) -> Allocation:
    """Hand an unfinished allocation to another reviewer; the old one stays, marked."""
    rnd = session.get_one(ReviewRound, allocation.round_id)
    require(actor, "review.run", rnd.cohort_id)
    _must_be_open(rnd)
    if allocation.status != "assigned":
        raise Conflict(f"allocation {allocation.id} is {allocation.status}, not assigned")
    allocation.status = "reassigned"
    moved = Allocation(
        round_id=rnd.id,
        reviewer_id=reviewer_id,
        submission_id=allocation.submission_id,
        kind=allocation.kind,
        packet=packet,
        due_at=due_at,
    )
    session.add(moved)
    session.flush()
    notify_reviewers(session, rnd.assignment, [reviewer_id], due_at)
    record(
        session,
        rnd.cohort_id,
        actor.member_id,
        "review.reassign",
        moved,
        previous=allocation.id,
        previous_reviewer=allocation.reviewer_id,
    )
    return moved


def withdraw_allocations(
    session: Session, actor: Actor, rnd: ReviewRound, allocation_ids: Sequence[int]
) -> list[Allocation]:
    """Withdraw allocations of an open round that no reviewer has begun (a late submitter
    took their place): the rows stay, marked, each one logged. All or none."""
    require(actor, "review.run", rnd.cohort_id)
    _must_be_open(rnd)
    wanted = set(allocation_ids)
    rows = session.scalars(
        select(Allocation)
        .where(Allocation.round_id == rnd.id, Allocation.id.in_(wanted))
        .order_by(Allocation.id)
    ).all()
    if len(rows) != len(wanted):
        raise NotFound(f"not every allocation is in the review round for {rnd.assignment!r}")
    begun = set(
        session.scalars(select(Review.allocation_id).where(Review.allocation_id.in_(wanted)))
    )
    for alloc in rows:
        if alloc.status != "assigned" or alloc.id in begun:
            state = "begun" if alloc.status == "assigned" else alloc.status
            raise Conflict(f"allocation {alloc.id} is {state}; it cannot be withdrawn")
    for alloc in rows:
        alloc.status = "withdrawn"
        record(session, rnd.cohort_id, actor.member_id, "review.withdraw", alloc)
    return list(rows)


def _must_be_open(rnd: ReviewRound) -> None:
    if rnd.status != "open":
        raise Conflict(f"the review round for {rnd.assignment!r} is {rnd.status}")


def effective_due(rnd: ReviewRound, allocation: Allocation) -> datetime | None:
    return allocation.due_at or rnd.due_at


def observations(session: Session, rnd: ReviewRound) -> list[tuple[Allocation, Review]]:
    """Every submitted review of the round with its allocation (self-assessments included;
    the caller decides what counts)."""
    rows = session.execute(
        select(Allocation, Review)
        .join(Review, Review.allocation_id == Allocation.id)
        .options(joinedload(Allocation.submission))
        .where(Allocation.round_id == rnd.id, Review.draft.is_(False))
        .order_by(Allocation.id)
    ).all()
    return [(a, r) for a, r in rows]


def close_round(
    session: Session, actor: Actor, rnd: ReviewRound, results: Mapping[int, dict[str, Any]]
) -> None:
    """Close the round and keep each submission's aggregated result (overrides stay apart)."""
    require(actor, "review.run", rnd.cohort_id)
    _must_be_open(rnd)
    authors = {}
    for sub in session.scalars(select(ReviewSubmission).where(ReviewSubmission.round_id == rnd.id)):
        if sub.id in results:
            sub.result = dict(results[sub.id])
            if sub.author_id is not None:
                authors[sub.author_id] = {"assignment": rnd.assignment}
    notify_members(session, "review_received", authors)  # their results are there to see
    rnd.status = "closed"
    rnd.closed_at = utcnow()
    record(session, rnd.cohort_id, actor.member_id, "review.close", rnd, results=len(results))


def reopen_round(session: Session, actor: Actor, rnd: ReviewRound, due_at: datetime) -> None:
    """Open a closed round again until ``due_at``; the results stand until the next close."""
    require(actor, "review.run", rnd.cohort_id)
    refuse_after_graduation(session, rnd.cohort_id, "no review round can open again")
    if rnd.status != "closed":
        raise Conflict(f"the review round for {rnd.assignment!r} is {rnd.status}, not closed")
    if due_at <= utcnow():
        raise Invalid(f"the new due date {due_at:%Y-%m-%d %H:%M %Z} has passed", field="due")
    rnd.status = "open"
    rnd.due_at = due_at
    rnd.closed_at = None
    record(session, rnd.cohort_id, actor.member_id, "review.reopen", rnd, due_at=due_at.isoformat())


def set_override(
    session: Session,
    actor: Actor,
    rnd: ReviewRound,
    author: Member,
    scores: Mapping[str, float],
    reason: str,
) -> ReviewSubmission:
    """An instructor's scores for a submission: they always win over the peers' and are
    logged with the reason."""
    require(actor, "review.run", rnd.cohort_id)
    if not reason.strip():
        raise Invalid(
            "an override needs a reason (it is logged and shown to the author)", field="reason"
        )
    sub = session.scalar(
        select(ReviewSubmission).where(
            ReviewSubmission.round_id == rnd.id, ReviewSubmission.author_id == author.id
        )
    )
    if sub is None:
        raise NotFound(f"{author.username} has no submission in this round", field="member")
    levels = (
        {c["id"]: {lv["points"] for lv in c["levels"]} for c in rnd.rubric.criteria}
        if rnd.rubric
        else {}
    )
    merged = dict((sub.override or {}).get("scores", {}))
    for cid, points in scores.items():
        if cid not in levels:
            raise Invalid(
                f"no criterion {cid!r} (criteria: {', '.join(levels)})", field="criterion"
            )
        if points not in levels[cid]:
            raise Invalid(
                f"{points:g} is not one of the points of {cid!r}: "
                f"{', '.join(f'{p:g}' for p in sorted(levels[cid]))}",
                field="points",
            )
        merged[cid] = float(points)
    sub.override = {
        "scores": merged,
        "reason": reason.strip(),
        "by": actor.username or "system",
        "at": utcnow().isoformat(),
    }
    record(
        session,
        rnd.cohort_id,
        actor.member_id,
        "review.override",
        sub,
        scores=dict(scores),
        reason=reason.strip(),
    )
    return sub
