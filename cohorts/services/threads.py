"""Threads anchored to course locations or topics, read page by page."""

from __future__ import annotations

import re
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort, Post, Reaction, ReadMark, Thread, utcnow
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Forbidden, Invalid
from nbcohort.cohorts.services.pages import PageCache, post_view, thread_page
from nbcohort.cohorts.services.unique import insert_or_advance

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
) -> dict[str, Any]:
    """A post as ``actor`` may see it (``pages.post_view``); ``author`` saves loading the
    author when the caller has it already."""
    return post_view(
        post, actor.member_id, actor.can("post.moderate"), reactions, mine or (), author
    )


def read_thread(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    anchor: str,
    *,
    before: int | None = None,
    limit: int = 30,
    cache: PageCache | None = None,
    unread: bool = False,
) -> dict[str, Any]:
    """One page of a thread: the newest ``limit`` top-level posts before ``before``, with replies.

    An anchor nobody has posted to yet reads as an empty thread; it is not created. The
    service passes its ``cache`` of recent pages (``pages.PageCache``). With ``unread``, the
    page also says how many posts by others the reader has not read yet (one more indexed
    query, so only when asked: the widget's summary line).
    """
    require(actor, "thread.read", cohort.id)
    anchor = clean_anchor(anchor)
    if anchor.startswith("prompt/") and not actor.can("post.moderate"):
        raise Forbidden("answers to a micro-prompt are read through the prompt")
    page = thread_page(session, actor, cohort, anchor, before=before, limit=limit, cache=cache)
    if unread:
        page["unread"] = _unread(session, actor, page["thread_id"])
    return page


_READ_UPTO = select(func.coalesce(func.max(ReadMark.last_post_id), 0)).where(
    ReadMark.thread_id == bindparam("thread_id"), ReadMark.member_id == bindparam("me")
)
_UNREAD = select(func.count()).where(
    Post.thread_id == bindparam("thread_id"),
    Post.id > _READ_UPTO.scalar_subquery(),
    Post.author_id != bindparam("me"),
    Post.deleted.is_(False),
)


def _unread(session: Session, actor: Actor, thread_id: int | None) -> int:
    """Posts by others in the thread after the reader's read mark (deleted ones aside)."""
    if thread_id is None or actor.member_id is None:
        return 0
    found = session.execute(_UNREAD, {"thread_id": thread_id, "me": actor.member_id})
    return int(found.scalar() or 0)


_READ_MARK = cast(Table, ReadMark.__table__)
_REACTIONS = (
    select(
        Reaction.post_id,
        Reaction.kind,
        func.count(),
        func.max(case((Reaction.member_id == bindparam("me"), 1), else_=0)),
    )
    .where(Reaction.post_id.in_(bindparam("ids", expanding=True)))
    .group_by(Reaction.post_id, Reaction.kind)
)


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
    mark = {
        "thread_id": thread.id,
        "member_id": actor.member_id,
        "last_post_id": newest,
        "read_at": utcnow(),
    }
    if not insert_or_advance(session, _READ_MARK, mark, ["thread_id", "member_id"], "last_post_id"):
        return newest  # read up to here already: nothing to write
    record(session, cohort.id, actor.member_id, "thread.read", thread, upto=newest)
    return newest
