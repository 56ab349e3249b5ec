"""The parts of a member's export that come from the community after the course: their ideas
and the endorsements they gave, the pilots they own with the updates they wrote, their posts
still held for approval and their appeals. Same rules as ``export``: texts go through the
caller's redactor (other members become "a member"), and no other member is named: an idea
the member endorsed is given by its id and thread, never by its author."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import (
    Appeal,
    HeldPost,
    Idea,
    IdeaEndorsement,
    Member,
    Pilot,
    PilotUpdate,
    Post,
    Thread,
)

__all__ = ["COMMUNITY_FILES", "community_parts"]

COMMUNITY_FILES = """ideas.json          your posts marked as ideas (state, endorsement count)
endorsements.json   the ideas you endorsed (their thread; not who wrote them)
pilots.json         the pilots you own, and the status updates you wrote
held_posts.json     your posts that waited for (or did not get) a moderator's approval
appeals.json        your appeals and the answers to them
"""


def _when(value: datetime | Any) -> str | None:
    return value.isoformat() if value is not None else None


def community_parts(
    session: Session, member: Member, redact: Callable[[str | None], str]
) -> dict[str, list[dict[str, Any]]]:
    """``{file name: rows}`` for the member's own community records."""
    endorsed = (
        select(IdeaEndorsement.idea_id, func.count().label("n"))
        .group_by(IdeaEndorsement.idea_id)
        .subquery()
    )
    ideas = [
        {
            "idea": i.id,
            "post": i.post_id,
            "thread": anchor,
            "state": i.state,
            "endorsements": n or 0,
            "marked_at": _when(i.created_at),
        }
        for i, anchor, n in session.execute(
            select(Idea, Thread.anchor, endorsed.c.n)
            .join(Post, Post.id == Idea.post_id)
            .join(Thread, Thread.id == Post.thread_id)
            .outerjoin(endorsed, endorsed.c.idea_id == Idea.id)
            .where(Post.author_id == member.id)
            .order_by(Idea.id)
        )
    ]
    endorsements = [
        {"idea": idea_id, "thread": anchor, "endorsed_at": _when(at)}
        for idea_id, anchor, at in session.execute(
            select(IdeaEndorsement.idea_id, Thread.anchor, IdeaEndorsement.created_at)
            .join(Idea, Idea.id == IdeaEndorsement.idea_id)
            .join(Post, Post.id == Idea.post_id)
            .join(Thread, Thread.id == Post.thread_id)
            .where(IdeaEndorsement.member_id == member.id)
            .order_by(IdeaEndorsement.id)
        )
    ]
    owned: dict[int, dict[str, Any]] = {
        p.id: {
            "pilot": p.id,
            "title": redact(p.title),
            "goal": redact(p.goal),
            "measure": redact(p.measure),
            "review_on": p.review_on.isoformat(),
            "status": p.status,
            "outcome": redact(p.outcome),
            "updates": [],
        }
        for p in session.scalars(
            select(Pilot).where(Pilot.owner_id == member.id).order_by(Pilot.id)
        )
    }
    for u in session.scalars(
        select(PilotUpdate).where(PilotUpdate.author_id == member.id).order_by(PilotUpdate.id)
    ):
        row = {"status": u.status, "markdown": redact(u.body_md), "at": _when(u.created_at)}
        owned.setdefault(u.pilot_id, {"pilot": u.pilot_id, "updates": []})["updates"].append(row)
    held = [
        {
            "thread": h.anchor,
            "markdown": redact(h.body_md),
            "status": h.status,
            "reason_html": redact(h.reason_html),
            "written_at": _when(h.created_at),
        }
        for h in session.scalars(
            select(HeldPost).where(HeldPost.author_id == member.id).order_by(HeldPost.id)
        )
    ]
    appeals = [
        {
            "appeal": a.id,
            "post": a.post_id,
            "text_html": redact(a.body_html),
            "status": a.status,
            "answer_html": redact(a.answer_html),
            "filed_at": _when(a.created_at),
        }
        for a in session.scalars(
            select(Appeal).where(Appeal.member_id == member.id).order_by(Appeal.id)
        )
    ]
    return {
        "ideas.json": ideas,
        "endorsements.json": endorsements,
        "pilots.json": list(owned.values()),
        "held_posts.json": held,
        "appeals.json": appeals,
    }
