"""What champions (and staff) do beyond posting: pin a post, welcome a newcomer on their
first post, host an upcoming routine."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import (
    CadenceItem,
    Cohort,
    Notification,
    Post,
    PostPin,
    Reaction,
    Thread,
    utcnow,
)
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Conflict, Invalid, NotFound
from nbcohort.cohorts.services.threads import clean_anchor
from nbcohort.cohorts.services.unique import insert_if_absent
from nbcohort.cohorts.services.visibility import reach_post

__all__ = ["MAX_PINS", "host_routine", "pin_post", "pinned_posts", "unpin_post", "welcome_post"]

MAX_PINS = 3  # per thread: a pinned list longer than this is no longer a pin
_PIN = cast(Table, PostPin.__table__)
_REACTION = cast(Table, Reaction.__table__)


def pin_post(session: Session, actor: Actor, post_id: int) -> bool:
    """Pin a shown post to the top of its thread; True if it was not pinned before."""
    require(actor, "post.pin", actor.cohort_id)
    post = reach_post(session, actor, post_id, "react")  # live and shown, as a reaction needs
    # Two champions pinning in one thread at once must not both see room for a last pin:
    # the thread's row is locked until commit (SQLite's one writer already serialises).
    session.execute(select(Thread.id).where(Thread.id == post.thread_id).with_for_update())
    pins = (
        session.scalar(
            select(func.count())
            .select_from(PostPin)
            .join(Post, Post.id == PostPin.post_id)
            .where(Post.thread_id == post.thread_id)
        )
        or 0
    )
    already = session.scalar(select(PostPin.id).where(PostPin.post_id == post.id))
    if already is not None:
        return False
    if pins >= MAX_PINS:
        raise Conflict(f"a thread keeps at most {MAX_PINS} pinned posts", field="post_id")
    row = {"post_id": post.id, "pinned_by": actor.member_id}
    if not insert_if_absent(session, _PIN, {**row, "pinned_at": utcnow()}):
        return False
    record(session, actor.cohort_id or 0, actor.member_id, "post.pin", post)
    return True


def unpin_post(session: Session, actor: Actor, post_id: int) -> bool:
    require(actor, "post.pin", actor.cohort_id)
    post = reach_post(session, actor, post_id, "read")
    gone = session.execute(
        delete(PostPin).where(PostPin.post_id == post.id).returning(PostPin.id)
    ).first()
    if gone:
        record(session, actor.cohort_id or 0, actor.member_id, "post.unpin", post)
    return gone is not None


def pinned_posts(session: Session, actor: Actor, cohort: Cohort, anchor: str) -> list[int]:
    """The ids of the posts pinned in the thread at ``anchor``, oldest pin first."""
    require(actor, "thread.read", cohort.id)
    anchor = clean_anchor(anchor)
    return list(
        session.scalars(
            select(PostPin.post_id)
            .join(Post, Post.id == PostPin.post_id)
            .join(Thread, Thread.id == Post.thread_id)
            .where(Thread.cohort_id == cohort.id, Thread.anchor == anchor, Post.deleted.is_(False))
            .order_by(PostPin.pinned_at, PostPin.id)
        )
    )


def welcome_post(session: Session, actor: Actor, post_id: int) -> bool:
    """Welcome a newcomer on their first post: a "welcome" reaction and a notification to
    them. Once per post (a second welcome, by anyone, changes nothing); refused on a post
    that is not its author's first, and on one's own."""
    require(actor, "post.welcome", actor.cohort_id)
    post = reach_post(session, actor, post_id, "react")
    if post.author_id == actor.member_id:
        raise Invalid("you cannot welcome yourself", field="post_id")
    first = session.scalar(
        select(func.min(Post.id))
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.author_id == post.author_id, Thread.cohort_id == actor.cohort_id)
    )
    if first != post.id:
        raise Invalid(f"post {post_id} is not its author's first post", field="post_id")
    welcomed = session.scalar(
        select(Reaction.id).where(Reaction.post_id == post.id, Reaction.kind == "welcome")
    )
    if welcomed is not None:
        return False
    row = {"post_id": post.id, "member_id": actor.member_id, "kind": "welcome"}
    if not insert_if_absent(session, _REACTION, {**row, "created_at": utcnow()}):
        return False
    session.add(
        Notification(
            member_id=post.author_id, kind="welcome", post_id=post.id, actor_id=actor.member_id
        )
    )
    record(
        session, actor.cohort_id or 0, actor.member_id, "post.welcome", post, author=post.author_id
    )
    return True


def host_routine(session: Session, actor: Actor, cohort: Cohort, key: str) -> dict[str, Any]:
    """Volunteer to host an upcoming routine (a planned cadence item): its post goes out
    under the host's name. First come: a routine someone else hosts is refused (the item row
    is locked, so of two champions at once the second waits, then finds it hosted)."""
    require(actor, "routine.host", cohort.id)
    item = session.scalar(
        select(CadenceItem)
        .where(CadenceItem.cohort_id == cohort.id, CadenceItem.key == key)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if item is None or item.kind != "routine":
        raise NotFound(f"no routine {key!r} in the plan", field="key")
    if item.state != "planned" or item.due_at <= utcnow():
        raise Conflict(f"routine {key!r} has already gone out", field="key")
    host = (item.payload or {}).get("host")
    if host and host != actor.username:
        raise Conflict(f"routine {key!r} is hosted by {host}", field="key")
    if host != actor.username:
        item.payload = {**(item.payload or {}), "host": actor.username}
        record(session, cohort.id, actor.member_id, "routine.host", item, key=key)
    return {"key": item.key, "host": actor.username, "due_at": item.due_at.isoformat()}
