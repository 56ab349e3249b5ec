"""The cohort's active threads: where the conversation is, for the cohort activity page.

A thread is active when posts a member may see were written in it within the window; each
comes with where it sits in the course (``section_link``), so a page can link into the
notebook. Prompt threads are left out (their answers follow the prompt's own rules,
``visibility.py``); so are hidden and deleted posts, for everyone: a count must not tell a
learner that a hidden post exists.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort, Post, Thread, utcnow
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Invalid
from nbcohort.cohorts.services.notifications import section_link

__all__ = ["MAX_DAYS", "MAX_LIMIT", "active_threads"]

MAX_DAYS = 366
MAX_LIMIT = 100


def active_threads(
    session: Session, actor: Actor, cohort: Cohort, *, days: int = 7, limit: int = 10
) -> list[dict[str, Any]]:
    """Section and topic threads with posts in the last ``days``, busiest first: each with
    its posts in the window, its posts in all, the last post's time and its course link."""
    require(actor, "cohort.read", cohort.id)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise Invalid(f"days must be a whole number from 1 to {MAX_DAYS}", field="days")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be a whole number from 1 to {MAX_LIMIT}", field="limit")
    since = utcnow() - timedelta(days=days)
    shown = (Post.deleted.is_(False)) & (Post.hidden.is_(False))
    recent = func.count(Post.id).filter(Post.created_at >= since)
    rows = session.execute(
        select(
            Thread.anchor,
            Thread.kind,
            Thread.title,
            recent.label("recent"),
            func.count(Post.id).label("total"),
            func.max(Post.created_at).label("last"),
        )
        .join(Post, Post.thread_id == Thread.id)
        .where(Thread.cohort_id == cohort.id, Thread.kind != "prompt", shown)
        .group_by(Thread.id, Thread.anchor, Thread.kind, Thread.title)
        .having(recent > 0)
        .order_by(recent.desc(), func.max(Post.created_at).desc())
        .limit(limit)
    ).all()
    return [
        {
            "anchor": r.anchor,
            "kind": r.kind,
            "title": r.title or r.anchor,
            "posts_in_window": int(r.recent),
            "posts": int(r.total),
            "last_post_at": r.last.isoformat(),
            "link": section_link(cohort, r.anchor),
        }
        for r in rows
    ]
