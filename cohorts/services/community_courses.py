"""The course threads of every cohort in a community of practice, read-only: sections and
course topics (never micro-prompt answers) of the community's graduated cohorts, each marked
with its cohort; another cohort's are read as a visitor (``community.visitor``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort, Post, Thread
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.community import cohort_mark, community_cohorts, visitor
from nbcohort.cohorts.services.errors import Invalid, NotFound
from nbcohort.cohorts.services.pages import thread_page
from nbcohort.cohorts.services.threads import clean_anchor

__all__ = ["course_threads", "read_course_thread"]

_COURSE_KINDS = ("section", "topic")


def _member_cohort(cohorts: list[Cohort], slug: object) -> Cohort:
    found = next((c for c in cohorts if c.slug == slug), None)
    if found is None:  # another community's cohort, or none: it does not exist for them
        raise NotFound(f"no cohort {slug!r} in this community", field="cohort")
    return found


def course_threads(
    session: Session, actor: Actor, cohort: Cohort, of: object, *, limit: int = 200
) -> list[dict[str, Any]]:
    """The course threads of cohort ``of`` in the community (sections and course topics;
    micro-prompt answers stay private), newest activity first."""
    if not 1 <= limit <= 500:
        raise Invalid("limit must be between 1 and 500", field="limit")
    other = _member_cohort(community_cohorts(session, actor, cohort), of)
    last = func.max(Post.created_at)
    rows = session.execute(
        select(Thread.anchor, Thread.title, func.count(Post.id), last)
        .outerjoin(Post, (Post.thread_id == Thread.id) & Post.deleted.is_(False))
        .where(Thread.cohort_id == other.id, Thread.kind.in_(_COURSE_KINDS))
        .group_by(Thread.id)
        .order_by(func.coalesce(last, Thread.created_at).desc(), Thread.anchor)
        .limit(limit)
    ).all()
    return [
        {
            "anchor": anchor,
            "title": title,
            "posts": int(n),
            "last_post_at": at.isoformat() if at else None,
            "cohort": cohort_mark(other),
            "read_only": other.id != cohort.id,
        }
        for anchor, title, n, at in rows
    ]


def read_course_thread(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    of: object,
    anchor: str,
    *,
    before: int | None = None,
    limit: int = 30,
) -> dict[str, Any]:
    """A page of a course thread of cohort ``of`` in the community, marked with its cohort and
    read-only when it is another cohort's."""
    other = _member_cohort(community_cohorts(session, actor, cohort), of)
    anchor = clean_anchor(anchor)
    kind = session.scalar(
        select(Thread.kind).where(Thread.cohort_id == other.id, Thread.anchor == anchor)
    )
    if kind not in _COURSE_KINDS:  # prompt answers, community topics, no thread at all
        raise NotFound(f"no course thread {anchor!r} in cohort {other.slug!r}", field="anchor")
    reader = visitor(actor, other.id)  # elsewhere a reader, nothing more
    page = thread_page(session, reader, other, anchor, before=before, limit=limit)
    return {**page, "cohort": cohort_mark(other), "read_only": other.id != cohort.id}
