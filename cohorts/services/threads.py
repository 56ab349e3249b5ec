"""Threads anchored to course locations or topics, read page by page."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from nbcohort.cohorts.models import Cohort, Post, Reaction, ReadMark, Thread, utcnow
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Forbidden, Invalid
from nbcohort.cohorts.services.members import member_dict

__all__ = [
    "clean_anchor",
    "find_thread",
    "full_post",
    "mark_read",
    "post_dict",
    "read_thread",
    "thread_page",
]

_ANCHOR = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)*$")


def clean_anchor(anchor: str) -> str:
    """A course location (``module-2/section-3``) or topic (``topic/pandas-tips``)."""
    anchor = (anchor or "").strip().strip("/")
    if not anchor or len(anchor) > 200 or not _ANCHOR.match(anchor):
        raise Invalid(
            f"anchor {anchor!r} must be path segments of letters, digits, '.', '_' or '-' "
            "separated by '/' (max 200 characters)",
            field="anchor",
        )
    return anchor


def find_thread(session: Session, cohort: Cohort, anchor: str) -> Thread | None:
    return session.scalar(
        select(Thread).where(Thread.cohort_id == cohort.id, Thread.anchor == clean_anchor(anchor))
    )


def post_dict(
    post: Post,
    actor: Actor,
    reactions: dict[str, int] | None = None,
    mine: set[str] | None = None,
) -> dict[str, Any]:
    """A post as ``actor`` may see it: hidden and deleted posts keep their place, not their text."""
    staff = actor.can("post.moderate")
    own = post.author_id == actor.member_id
    visible = not post.deleted and (not post.hidden or staff)
    return {
        "id": post.id,
        "thread_id": post.thread_id,
        "parent_id": post.parent_id,
        "author": member_dict(post.author),
        "html": post.body_html if visible else "",
        "markdown": post.body_md if visible and (own or staff) else None,
        "created_at": post.created_at.isoformat(),
        "edited_at": post.edited_at.isoformat() if post.edited_at else None,
        "deleted": post.deleted,
        "hidden": post.hidden,
        "hidden_reason": post.hidden_reason if (staff or own) else "",
        "reactions": reactions or {},
        "my_reactions": sorted(mine or ()),
        "can_edit": own and not post.deleted,
        "can_delete": (own or staff) and not post.deleted,
        "replies": [],
    }


def read_thread(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    anchor: str,
    *,
    before: int | None = None,
    limit: int = 30,
) -> dict[str, Any]:
    """One page of a thread: the newest ``limit`` top-level posts before ``before``, with replies.

    An anchor nobody has posted to yet reads as an empty thread; it is not created.
    """
    require(actor, "thread.read", cohort.id)
    anchor = clean_anchor(anchor)
    if anchor.startswith("prompt/") and not actor.can("post.moderate"):
        raise Forbidden("answers to a micro-prompt are read through the prompt")
    return thread_page(session, actor, cohort, anchor, before=before, limit=limit)


def thread_page(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    anchor: str,
    *,
    before: int | None = None,
    limit: int = 30,
) -> dict[str, Any]:
    """A page of a thread with no access rule of its own (callers in this layer check)."""
    if not 1 <= limit <= 200:
        raise Invalid("limit must be between 1 and 200", field="limit")
    thread = find_thread(session, cohort, anchor)
    out: dict[str, Any] = {"anchor": anchor, "exists": thread is not None, "thread_id": None,
                           "title": "", "locked": False, "posts": [], "has_more": False,
                           "total": 0}  # fmt: skip
    if thread is None:
        return out
    out.update(thread_id=thread.id, title=thread.title, locked=thread.locked)
    top_q = (
        select(Post)
        .options(joinedload(Post.author))
        .where(Post.thread_id == thread.id, Post.parent_id.is_(None))
        .order_by(Post.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        top_q = top_q.where(Post.id < before)
    top = list(session.scalars(top_q))
    out["has_more"] = len(top) > limit
    top = list(reversed(top[:limit]))
    out["total"] = session.scalar(
        select(func.count()).select_from(Post).where(Post.thread_id == thread.id)
    )
    if not top:
        return out
    top_ids = [p.id for p in top]
    replies = list(
        session.scalars(
            select(Post)
            .options(joinedload(Post.author))
            .where(Post.thread_id == thread.id, Post.parent_id.in_(top_ids))
            .order_by(Post.id)
        )
    )
    ids = top_ids + [p.id for p in replies]
    counts, mine = _reactions(session, actor, ids)
    by_id = {p.id: post_dict(p, actor, counts.get(p.id), mine.get(p.id)) for p in top}
    for reply in replies:
        by_id[reply.parent_id]["replies"].append(  # type: ignore[index]
            post_dict(reply, actor, counts.get(reply.id), mine.get(reply.id))
        )
    out["posts"] = [by_id[i] for i in top_ids]
    return out


def _reactions(
    session: Session, actor: Actor, ids: list[int]
) -> tuple[dict[int, dict[str, int]], dict[int, set[str]]]:
    """Reaction counts per post, and the actor's own reactions, for ``ids``."""
    counts: dict[int, dict[str, int]] = {}
    for post_id, kind, n in session.execute(
        select(Reaction.post_id, Reaction.kind, func.count())
        .where(Reaction.post_id.in_(ids))
        .group_by(Reaction.post_id, Reaction.kind)
    ):
        counts.setdefault(post_id, {})[kind] = n
    mine: dict[int, set[str]] = {}
    if actor.member_id is not None:
        for post_id, kind in session.execute(
            select(Reaction.post_id, Reaction.kind).where(
                Reaction.post_id.in_(ids), Reaction.member_id == actor.member_id
            )
        ):
            mine.setdefault(post_id, set()).add(kind)
    return counts, mine


def full_post(session: Session, actor: Actor, post: Post) -> dict[str, Any]:
    """One post as ``actor`` sees it, with its reactions (what the API returns for a post)."""
    session.flush()
    counts, mine = _reactions(session, actor, [post.id])
    return post_dict(post, actor, counts.get(post.id), mine.get(post.id))


def mark_read(session: Session, actor: Actor, cohort: Cohort, anchor: str) -> int:
    """Record, privately, that the actor read the thread up to its newest post."""
    require(actor, "thread.read", cohort.id)
    thread = find_thread(session, cohort, anchor)
    if thread is None or actor.member_id is None:
        return 0
    newest = session.scalar(select(func.max(Post.id)).where(Post.thread_id == thread.id)) or 0
    mark = session.scalar(
        select(ReadMark).where(
            ReadMark.thread_id == thread.id, ReadMark.member_id == actor.member_id
        )
    )
    if mark is None:
        mark = ReadMark(thread_id=thread.id, member_id=actor.member_id, last_post_id=newest)
        session.add(mark)
    elif mark.last_post_id < newest:
        mark.last_post_id = newest
        mark.read_at = utcnow()
    else:
        return newest
    record(session, cohort.id, actor.member_id, "thread.read", thread, upto=newest)
    return newest
