"""The moderation queue: what waits for a champion or a facilitator, in one place. Held
posts (champions and staff approve or reject them), flagged or hidden posts (staff hide or
restore them; champions see them), and appeals (staff answer them). Learners and sponsors
are refused; another cohort's items are never listed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Appeal, Cohort, Flag, HeldPost, Member, Post, Thread
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.services.appeals import appeal_dict
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.members import public_member
from nbcohort.cohorts.services.moderation_hold import held_dict

__all__ = ["moderation_queue"]

_LIMIT = 200


def moderation_queue(session: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
    """Held posts, flagged or hidden posts and open appeals, oldest first, with the actions
    the actor may take on each (``can``)."""
    require(actor, "moderation.queue", cohort.id)
    staff = actor.can("post.moderate")
    held = [
        held_dict(h, author)
        for h, author in session.execute(
            select(HeldPost, Member)
            .join(Member, Member.id == HeldPost.author_id)
            .where(
                HeldPost.cohort_id == cohort.id,
                HeldPost.status == "held",
                Member.active.is_(True),
            )
            .order_by(HeldPost.id)
            .limit(_LIMIT)
        )
    ]
    return {
        "held": held,
        "flags": _flagged(session, cohort, staff),
        "appeals": _appeals(session, cohort) if actor.can("appeal.decide") else [],
        "can": {
            "approve": actor.can("post.approve"),
            "moderate": staff,
            "decide_appeals": actor.can("appeal.decide"),
        },
    }


def _flagged(session: Session, cohort: Cohort, staff: bool) -> list[dict[str, Any]]:
    """Posts with open flags, or hidden: the flags' reasons (never who flagged)."""
    open_flags = (
        select(Flag.post_id, func.count().label("n"))
        .where(Flag.resolved_at.is_(None))
        .group_by(Flag.post_id)
        .subquery()
    )
    rows = session.execute(
        select(Post, Thread.anchor, Member, func.coalesce(open_flags.c.n, 0))
        .join(Thread, Thread.id == Post.thread_id)
        .join(Member, Member.id == Post.author_id)
        .outerjoin(open_flags, open_flags.c.post_id == Post.id)
        .where(
            Thread.cohort_id == cohort.id,
            Post.deleted.is_(False),
            (Post.hidden.is_(True)) | (open_flags.c.n > 0),
        )
        .order_by(Post.id)
        .limit(_LIMIT)
    ).all()
    ids = [post.id for post, *_ in rows]
    reasons: dict[int, list[str]] = {}
    for post_id, reason in session.execute(
        select(Flag.post_id, Flag.reason).where(
            Flag.post_id.in_(ids), Flag.resolved_at.is_(None), Flag.reason != ""
        )
    ):
        reasons.setdefault(post_id, []).append(render_markdown(reason))
    return [
        {
            "post_id": post.id,
            "anchor": anchor,
            "author": public_member(author),
            "html": post.body_html if (staff or not post.hidden) else "",
            "hidden": post.hidden,
            "hidden_reason": post.hidden_reason if staff else "",
            "open_flags": int(n),
            "flag_reasons": reasons.get(post.id, []),
        }
        for post, anchor, author, n in rows
    ]


def _appeals(session: Session, cohort: Cohort) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Appeal, Member)
        .join(Member, Member.id == Appeal.member_id)
        .where(Appeal.cohort_id == cohort.id, Appeal.status == "open")
        .order_by(Appeal.id)
        .limit(_LIMIT)
    )
    return [{**appeal_dict(a), "member": public_member(m)} for a, m in rows]
