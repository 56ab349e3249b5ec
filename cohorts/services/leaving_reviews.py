"""The peer reviews a leaving member still owes, moved to the backup pool within the leave's
own unit of work (``leaving.leave``).

A round opened through the service exchange (``settings["packets"] == "exchange"``) keeps
its anonymized packets in the service (``exchange_packets``). A packet holds one author's
files, anonymized, and nothing of its reviewer: ``exchange/packets.py`` writes the same
files for each of that author's reviewers, under a random name. So the backup reviewer is
given the same stored packet (the same ``Allocation.packet``): ``review_packets.packet_files``
hands a packet only to the reviewer of a live allocation, and the leaver's allocation is
marked ``reassigned`` (``review_rounds.move_allocation``, logged ``review.reassign``; the new
reviewer is notified without any name, as at open).

The backup is chosen by ``backup_pool.reassign``, the rule ``nbcohort review reassign`` uses:
the round's reviewers who have finished theirs, plus active facilitators
(``PrivacySettings.backup_facilitators``); never the author, nor anyone who reviews, or was
once allocated, that submission; the round's team rule kept; least loaded first, ties broken
by the round's seed. The new allocation is due at the later of the leaver's due date and
``PrivacySettings.backup_review_days`` from now.

Nothing moves in a round whose packets are in the instructor's course folder (the service
cannot reach them) or whose owed reviews the pool cannot all take: the leave reports why, and
the instructors are told (``reviews_orphaned``), for ``nbcohort review reassign``.

Two members leaving at once: each leave locks its cohort's open rounds (in id order, before
its member row) so one waits for the other and then sees it gone, never picking it as a
backup. A member picked as a backup who leaves later finds that review owed and moves it on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import PrivacySettings
from nbcohort.cohorts.models import Allocation, Member, ReviewRound, ReviewSubmission, utcnow
from nbcohort.cohorts.services.allocation_rules import AllocationError
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.backup_pool import reassign
from nbcohort.cohorts.services.review_rounds import move_allocation

__all__ = ["FOLDER_PACKETS", "OwedReviews", "lock_open_rounds", "move_owed_reviews"]

FOLDER_PACKETS = "its packets are in the instructor's course folder, which the service cannot reach"
_LIVE = ("assigned", "submitted")


@dataclass
class OwedReviews:
    """Per assignment of an open round: reviews moved, or left (how many, and why)."""

    moved: dict[str, int] = field(default_factory=dict)
    left: dict[str, int] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)


def lock_open_rounds(session: Session, cohort_id: int) -> Sequence[ReviewRound]:
    """The cohort's open rounds, each row locked until the unit of work ends (PostgreSQL;
    SQLite's writers queue anyway), read afresh: leaves in one cohort take turns."""
    return session.scalars(
        select(ReviewRound)
        .where(ReviewRound.cohort_id == cohort_id, ReviewRound.status == "open")
        .order_by(ReviewRound.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()


def move_owed_reviews(
    session: Session,
    member: Member,
    rounds: Sequence[ReviewRound],
    settings: PrivacySettings,
) -> OwedReviews:
    """Move each unsubmitted peer review ``member`` owes in ``rounds`` (open, locked by
    ``lock_open_rounds``) to a backup reviewer, or say why it stays. The caller has
    authorized the leave; the moves are the service's, logged as the system's."""
    out = OwedReviews()
    for rnd in rounds:
        owed = session.scalars(
            select(Allocation)
            .where(
                Allocation.round_id == rnd.id,
                Allocation.reviewer_id == member.id,
                Allocation.kind == "peer",
                Allocation.status == "assigned",
            )
            .order_by(Allocation.id)
            .execution_options(populate_existing=True)
        ).all()
        if not owed:
            continue
        if rnd.settings.get("packets") != "exchange":
            out.left[rnd.assignment], out.why[rnd.assignment] = len(owed), FOLDER_PACKETS
            continue
        backups = _choose(session, rnd, member, owed, settings)
        if isinstance(backups, str):
            out.left[rnd.assignment], out.why[rnd.assignment] = len(owed), backups
            continue
        due = utcnow() + timedelta(days=settings.backup_review_days)
        for alloc in owed:  # the leaver's own due date, when later, stands
            mine = alloc.due_at or rnd.due_at
            due = max(due, mine) if mine is not None else due
        for alloc in owed:
            move_allocation(session, Actor.system(), alloc, backups[alloc.id], alloc.packet, due)
        out.moved[rnd.assignment] = len(owed)
    return out


def _choose(
    session: Session,
    rnd: ReviewRound,
    member: Member,
    owed: Sequence[Allocation],
    settings: PrivacySettings,
) -> dict[int, int] | str:
    """Owed allocation id -> the backup reviewer's member id; or why there is none."""
    people = {
        m.id: m
        for m in session.execute(
            select(Member.id, Member.username, Member.team, Member.role, Member.active).where(
                Member.cohort_id == rnd.cohort_id
            )
        )
    }
    rows = session.execute(
        select(Allocation.id, Allocation.reviewer_id, Allocation.status, ReviewSubmission.author_id)
        .join(ReviewSubmission, ReviewSubmission.id == Allocation.submission_id)
        .where(Allocation.round_id == rnd.id, Allocation.kind == "peer")
    ).all()
    name = {i: p.username for i, p in people.items()}
    pairs: list[tuple[str, str]] = []
    barred: list[tuple[str, str]] = []
    finished: dict[int, bool] = {}
    for _id, reviewer, status, author in rows:
        pair = (name[reviewer], name[author])
        if status not in _LIVE:
            barred.append(pair)
            continue
        pairs.append(pair)
        done = status == "submitted" and bool(people[reviewer].active)
        finished[reviewer] = finished.get(reviewer, True) and done
    pool = {name[r] for r, done in finished.items() if done}
    if settings.backup_facilitators:
        pool |= {p.username for p in people.values() if p.role == "facilitator" and p.active}
    pool.discard(member.username)
    author_of = {alloc_id: name[author] for alloc_id, _r, _s, author in rows}
    authors = {a.id: author_of[a.id] for a in owed}
    missing = [(member.username, author) for author in authors.values()]
    try:
        moved = reassign(
            sorted(pairs),
            missing,
            sorted(pool),
            seed=rnd.seed or 0,
            teams={p.username: p.team for p in people.values()},
            team_rule=str(rnd.settings.get("team_rule", "prefer")),
            barred=barred,
        )
    except AllocationError:
        who = "reviewers who finished theirs" + (
            " and facilitators" if settings.backup_facilitators else ""
        )
        return (
            f"no one in the backup pool ({who}: {len(pool)}) can take "
            f"{'it' if len(owed) == 1 else 'them all'} within the round's rules"
        )
    taken = {a: r for r, a in set(moved) - set(pairs)}
    ids = {p.username: i for i, p in people.items()}
    return {alloc_id: ids[taken[author]] for alloc_id, author in authors.items()}
