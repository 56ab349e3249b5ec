"""Mentions and replies that a member should see, and the @mention lookup behind them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Member, Notification, Post, Thread, utcnow
from nbcohort.cohorts.sanitize import find_mentions
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Forbidden

__all__ = ["list_notifications", "mark_all_read", "notify_post", "resolve_mentions"]


def resolve_mentions(session: Session, cohort_id: int, text: str) -> dict[str, int]:
    """The @usernames in ``text`` that are active members of the cohort (others stay text)."""
    names = find_mentions(text)
    if not names:
        return {}
    rows = session.execute(
        select(Member.username, Member.id).where(
            Member.cohort_id == cohort_id, Member.active.is_(True), Member.username.in_(names)
        )
    )
    return {name: member_id for name, member_id in rows}


def notify_post(
    session: Session, post: Post, mentioned: dict[str, int], parent: Post | None
) -> int:
    """Tell mentioned members, and the author replied to, about ``post`` (once each)."""
    targets: dict[int, str] = {}
    if parent is not None and parent.author_id != post.author_id:
        targets[parent.author_id] = "reply"
    for member_id in mentioned.values():
        targets[member_id] = "mention"
    targets.pop(post.author_id, None)
    if not targets:
        return 0
    already = set(
        session.scalars(select(Notification.member_id).where(Notification.post_id == post.id))
    )
    made = 0
    for member_id, kind in targets.items():
        if member_id == post.author_id or member_id in already:
            continue
        session.add(
            Notification(member_id=member_id, kind=kind, post_id=post.id, actor_id=post.author_id)
        )
        made += 1
    return made


def list_notifications(
    session: Session, actor: Actor, *, unread_only: bool = True, limit: int = 50
) -> list[dict[str, Any]]:
    """The actor's own notifications, newest first, with where to find the post."""
    if actor.member_id is None:
        raise Forbidden("only members have notifications")
    query = (
        select(Notification, Thread.anchor, Member.name)
        .outerjoin(Post, Notification.post_id == Post.id)  # a review reminder has no post
        .outerjoin(Thread, Post.thread_id == Thread.id)
        .outerjoin(Member, Notification.actor_id == Member.id)
        .where(Notification.member_id == actor.member_id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return [
        {
            "id": n.id,
            "kind": n.kind,
            "post_id": n.post_id,
            "anchor": anchor,
            "by": by,
            "created_at": n.created_at.isoformat(),
            "read": n.read_at is not None,
        }
        for n, anchor, by in session.execute(query)
    ]


def mark_all_read(session: Session, actor: Actor) -> int:
    if actor.member_id is None:
        raise Forbidden("only members have notifications")
    result = session.execute(
        update(Notification)
        .where(Notification.member_id == actor.member_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
