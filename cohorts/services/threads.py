"""Threads anchored to course locations or topics, read page by page."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort, Member, Post, Reaction, ReadMark, Thread, utcnow
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Forbidden, Invalid
from nbcohort.cohorts.services.members import member_dict
from nbcohort.cohorts.services.unique import add_unique

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
    post: Any,
    actor: Actor,
    reactions: dict[str, int] | None = None,
    mine: set[str] | None = None,
    author: dict[str, Any] | None = None,
    staff: bool | None = None,
) -> dict[str, Any]:
    """A post as ``actor`` may see it: hidden and deleted posts keep their place, not their text.

    ``post`` is a Post or a row with the same column names; ``author`` saves loading the
    author when the caller has it already.
    """
    if staff is None:
        staff = actor.can("post.moderate")
    own = post.author_id == actor.member_id
    visible = not post.deleted and (not post.hidden or staff)
    return {
        "id": post.id,
        "thread_id": post.thread_id,
        "parent_id": post.parent_id,
        "author": author if author is not None else member_dict(post.author),
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
    # Statements are built once (below) and rows read on the connection, not as ORM
    # objects: a page is read far more often than anything is written.
    conn = session.connection()
    thread = conn.execute(_THREAD, {"cohort_id": cohort.id, "anchor": anchor}).first()
    out: dict[str, Any] = {"anchor": anchor, "exists": thread is not None, "thread_id": None,
                           "title": "", "locked": False, "posts": [], "has_more": False,
                           "total": 0}  # fmt: skip
    if thread is None:
        return out
    out.update(thread_id=thread.id, title=thread.title, locked=thread.locked, total=thread.total)
    top = conn.execute(
        _TOP, {"thread_id": thread.id, "before": before or _NO_LIMIT, "limit": limit + 1}
    ).all()
    out["has_more"] = len(top) > limit
    top = list(reversed(top[:limit]))
    if not top:
        return out
    top_ids = [p.id for p in top]
    replies = conn.execute(_REPLIES, {"thread_id": thread.id, "ids": top_ids}).all()
    counts, mine = _reactions(session, actor, top_ids + [p.id for p in replies])
    staff = actor.can("post.moderate")

    def view(row: Any) -> dict[str, Any]:
        author = {"id": row.author_id, "username": row.username, "name": row.name,
                  "role": row.role, "team": row.team, "timezone": row.timezone}  # fmt: skip
        return post_dict(row, actor, counts.get(row.id), mine.get(row.id), author, staff)

    by_id = {row.id: view(row) for row in top}
    for reply in replies:
        by_id[reply.parent_id]["replies"].append(view(reply))
    out["posts"] = [by_id[i] for i in top_ids]
    return out


_NO_LIMIT = 2**31 - 1  # above any post id (ids are 32-bit on PostgreSQL)
_PAGE_COLUMNS = (
    Post.id, Post.thread_id, Post.parent_id, Post.author_id, Post.body_md, Post.body_html,
    Post.created_at, Post.edited_at, Post.deleted, Post.hidden, Post.hidden_reason,
    Member.username, Member.name, Member.role, Member.team, Member.timezone,
)  # fmt: skip
_THREAD = select(
    Thread.id,
    Thread.title,
    Thread.locked,
    select(func.count())
    .select_from(Post)
    .where(Post.thread_id == Thread.id)
    .scalar_subquery()
    .label("total"),
).where(Thread.cohort_id == bindparam("cohort_id"), Thread.anchor == bindparam("anchor"))
_TOP = (
    select(*_PAGE_COLUMNS)
    .join(Member, Post.author_id == Member.id)
    .where(
        Post.thread_id == bindparam("thread_id"),
        Post.parent_id.is_(None),
        Post.id < bindparam("before"),
    )
    .order_by(Post.id.desc())
    .limit(bindparam("limit"))
)
_REPLIES = (
    select(*_PAGE_COLUMNS)
    .join(Member, Post.author_id == Member.id)
    .where(
        Post.thread_id == bindparam("thread_id"),
        Post.parent_id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(Post.id)
)
_REACTIONS = (
    select(Reaction.post_id, Reaction.kind, func.count(),
           func.max(case((Reaction.member_id == bindparam("me"), 1), else_=0)))
    .where(Reaction.post_id.in_(bindparam("ids", expanding=True)))
    .group_by(Reaction.post_id, Reaction.kind)
)  # fmt: skip


def _reactions(
    session: Session, actor: Actor, ids: list[int]
) -> tuple[dict[int, dict[str, int]], dict[int, set[str]]]:
    """Reaction counts per post, and the actor's own reactions, for ``ids``."""
    counts: dict[int, dict[str, int]] = {}
    mine: dict[int, set[str]] = {}
    me = actor.member_id if actor.member_id is not None else -1
    for post_id, kind, n, by_me in session.connection().execute(_REACTIONS, {"me": me, "ids": ids}):
        counts.setdefault(post_id, {})[kind] = n
        if by_me:
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
    mark, created = add_unique(
        session,
        ReadMark(thread_id=thread.id, member_id=actor.member_id, last_post_id=newest),
        lambda: session.scalar(
            select(ReadMark).where(
                ReadMark.thread_id == thread.id, ReadMark.member_id == actor.member_id
            )
        ),
    )
    if not created:
        if mark.last_post_id >= newest:
            return newest
        mark.last_post_id, mark.read_at = newest, utcnow()
    record(session, cohort.id, actor.member_id, "thread.read", thread, upto=newest)
    return newest
