"""The facilitator dashboard's tables: members at risk, unanswered questions, the
moderation queue, and who still owes reviews. Staff only (those who run the roster): every
row is about a named member, so the service refuses anyone else (403), whatever a page shows.

- at risk: a learner or champion with no activity in the last ``quiet_days`` (reads count:
  a reader is a learner too; when they were last active is not shown, since it may be a
  read, and reads are never shown per person; the API takes whole weeks only, so one look
  cannot set spans a day apart side by side to date it), an onboarding step sent and not done for
  ``quiet_days``, or reviews owed in an open round;
- unanswered: a top-level post older than ``unanswered_hours`` that nobody else replied to
  (prompt answers and deleted or hidden posts left out);
- moderation: hidden posts, with their open flags and the reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from nbcohort.cohorts.models import (
    Activity,
    Allocation,
    Appeal,
    Cohort,
    Flag,
    HeldPost,
    Member,
    OnboardingStep,
    Post,
    Review,
    ReviewRound,
    Thread,
    utcnow,
)
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.notifications import section_link
from nbcohort.cohorts.services.snippets import plain_text

__all__ = ["facilitator_tables"]

_COUNTED = ("learner", "champion")
_LIMIT = 200


def _at_risk(session: Session, cohort: Cohort, quiet_days: int) -> list[dict[str, Any]]:
    now = utcnow()
    since = now - timedelta(days=quiet_days)
    people = session.scalars(
        select(Member)
        .where(Member.cohort_id == cohort.id, Member.active.is_(True), Member.role.in_(_COUNTED))
        .order_by(Member.name, Member.id)
    ).all()
    last = dict(
        session.execute(
            select(Activity.member_id, func.max(Activity.at))
            .where(Activity.cohort_id == cohort.id, Activity.member_id.is_not(None))
            .group_by(Activity.member_id)
        ).all()
    )
    stalled = dict(
        session.execute(
            select(OnboardingStep.member_id, func.count())
            .join(Member, Member.id == OnboardingStep.member_id)
            .where(
                Member.cohort_id == cohort.id,
                OnboardingStep.state == "sent",
                OnboardingStep.at < since,
            )
            .group_by(OnboardingStep.member_id)
        ).all()
    )
    owed = dict(
        session.execute(
            select(Allocation.reviewer_id, func.count())
            .join(ReviewRound, ReviewRound.id == Allocation.round_id)
            .outerjoin(Review, Review.allocation_id == Allocation.id)
            .where(
                ReviewRound.cohort_id == cohort.id,
                ReviewRound.status == "open",
                Allocation.status == "assigned",
                (Review.id.is_(None)) | (Review.draft.is_(True)),
            )
            .group_by(Allocation.reviewer_id)
        ).all()
    )
    out = []
    for m in people:
        seen = last.get(m.id)
        reasons = []
        if seen is None or seen.replace(tzinfo=now.tzinfo) < since:
            reasons.append(f"no activity in {quiet_days} days")
        if stalled.get(m.id):
            reasons.append(f"onboarding stalled ({stalled[m.id]} step(s) not done)")
        if owed.get(m.id):
            reasons.append(f"owes {owed[m.id]} review(s)")
        if reasons:
            out.append(
                {
                    "member": m.name,
                    "username": m.username,
                    "team": m.team,
                    "role": m.role,
                    "reasons": reasons,
                }
            )
    return out


def _unanswered(session: Session, cohort: Cohort, hours: int) -> list[dict[str, Any]]:
    reply = aliased(Post)
    answered = exists().where(  # a reply is in its parent's thread: the thread's index serves
        reply.thread_id == Post.thread_id,
        reply.parent_id == Post.id,
        reply.author_id != Post.author_id,
        reply.deleted.is_(False),
    )
    rows = session.execute(
        select(Post, Thread.anchor, Thread.title, Member.name)
        .join(Thread, Thread.id == Post.thread_id)
        .join(Member, Member.id == Post.author_id)
        .where(
            Thread.cohort_id == cohort.id,
            Thread.kind != "prompt",
            Post.parent_id.is_(None),
            Post.deleted.is_(False),
            Post.hidden.is_(False),
            Post.created_at < utcnow() - timedelta(hours=hours),
            ~answered,
        )
        .order_by(Post.created_at)
        .limit(_LIMIT)
    ).all()
    return [
        {
            "post_id": post.id,
            "anchor": anchor,
            "thread": title or anchor,
            "author": name,
            "created_at": post.created_at.isoformat(),
            "excerpt": " ".join(post.body_md.split())[:160],
            "link": section_link(cohort, anchor),
        }
        for post, anchor, title, name in rows
    ]


def _moderation(session: Session, cohort: Cohort) -> list[dict[str, Any]]:
    """What waits for moderation, newest first: held first posts, hidden or flagged posts,
    open appeals (the same rows ``moderation()`` acts on), one kind per row."""
    open_flags = (
        select(Flag.post_id, func.count().label("n"))
        .where(Flag.resolved_at.is_(None))
        .group_by(Flag.post_id)
        .subquery()
    )
    rows = session.execute(
        select(Post, Thread.anchor, Member.name, func.coalesce(open_flags.c.n, 0))
        .join(Thread, Thread.id == Post.thread_id)
        .join(Member, Member.id == Post.author_id)
        .outerjoin(open_flags, open_flags.c.post_id == Post.id)
        .where(
            Thread.cohort_id == cohort.id,
            Post.deleted.is_(False),
            (Post.hidden.is_(True)) | (open_flags.c.n > 0),
        )
        .order_by(Post.id.desc())
        .limit(_LIMIT)
    ).all()
    found = [
        _queue_row(
            "hidden" if post.hidden else "flagged",
            post.created_at,
            anchor,
            name,
            post.body_md,
            post_id=post.id,
            hidden=post.hidden,
            reason=post.hidden_reason,
            open_flags=int(flags),
        )
        for post, anchor, name, flags in rows
    ]
    for held, name in session.execute(
        select(HeldPost, Member.name)
        .join(Member, Member.id == HeldPost.author_id)
        .where(HeldPost.cohort_id == cohort.id, HeldPost.status == "held", Member.active.is_(True))
        .order_by(HeldPost.id.desc())
        .limit(_LIMIT)
    ):
        found.append(
            _queue_row(
                "held post", held.created_at, held.anchor, name, held.body_md, held_id=held.id
            )
        )
    for appeal, name in session.execute(
        select(Appeal, Member.name)
        .join(Member, Member.id == Appeal.member_id)
        .where(Appeal.cohort_id == cohort.id, Appeal.status == "open")
        .order_by(Appeal.id.desc())
        .limit(_LIMIT)
    ):
        found.append(
            _queue_row(
                "appeal",
                appeal.created_at,
                appeal.subject,
                name,
                plain_text(appeal.body_html),
                post_id=appeal.post_id,
                held_id=appeal.held_id,
                appeal_id=appeal.id,
            )
        )
    found.sort(key=lambda r: r["created_at"], reverse=True)
    return found[:_LIMIT]


def _queue_row(
    kind: str, created: datetime, anchor: str, author: str, text: str, **fields: Any
) -> dict[str, Any]:
    row = {
        "kind": kind,
        "created_at": created.isoformat(),
        "anchor": anchor,
        "author": author,
        "post_id": None,
        "held_id": None,
        "appeal_id": None,
        "hidden": False,
        "reason": "",
        "open_flags": 0,
        "excerpt": " ".join(text.split())[:160],
    }
    row.update(fields)
    return row


def _reviews_owed(session: Session, cohort: Cohort) -> list[dict[str, Any]]:
    done = and_(Review.id.is_not(None), Review.draft.is_(False))
    rows = session.execute(
        select(
            ReviewRound.assignment,
            ReviewRound.due_at,
            Member.name,
            func.count(Allocation.id),
            func.count(Review.id).filter(done),
        )
        .join(Allocation, Allocation.round_id == ReviewRound.id)
        .join(Member, Member.id == Allocation.reviewer_id)
        .outerjoin(Review, Review.allocation_id == Allocation.id)
        .where(
            ReviewRound.cohort_id == cohort.id,
            ReviewRound.status == "open",
            Allocation.status.in_(("assigned", "submitted")),
        )
        .group_by(
            ReviewRound.id, ReviewRound.assignment, ReviewRound.due_at, Member.id, Member.name
        )
        .order_by(ReviewRound.assignment, Member.name)
    ).all()
    return [
        {
            "assignment": assignment,
            "due_at": due.isoformat() if due else None,
            "reviewer": name,
            "given": int(given),
            "submitted": int(submitted),
        }
        for assignment, due, name, given, submitted in rows
        if submitted < given
    ]


def facilitator_tables(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    *,
    quiet_days: int = 7,
    unanswered_hours: int = 48,
) -> dict[str, Any]:
    """The dashboard's tables for staff; 403 for anyone else (every row names a member)."""
    require(actor, "roster.manage", cohort.id)
    return {
        "quiet_days": quiet_days,
        "unanswered_hours": unanswered_hours,
        "at_risk": _at_risk(session, cohort, quiet_days),
        "unanswered": _unanswered(session, cohort, unanswered_hours),
        "moderation": _moderation(session, cohort),
        "reviews_owed": _reviews_owed(session, cohort),
    }
