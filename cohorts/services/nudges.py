"""Leader nudges (#16 part 4): for the cohort's sponsors, the few threads where a leader's
reply would help most, by the cohort file's ``[nudges]`` rule:

- questions unanswered for ``unanswered_hours`` (top-level posts nobody else replied to,
  those with a question mark first, then the oldest);
- open ideas within ``near`` endorsements of the escalation threshold, closest first;
- active pilots whose review date is within ``review_days`` (or past), soonest first;

at most ``size`` of each. Sponsors read them in the notebook (``nudges()``, ``GET
/api/v1/nudges``) at any time, and the tick's ``nudges`` step queues them once a week (on
``day`` after ``send_at`` in the cohort's zone) through the rhythm's email outbox, once per
sponsor and week (the outbox's dedupe key). A sponsor's reply carries a sponsor label
(``pages.post_view``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from nbcohort.cohorts.idea_file import Nudges
from nbcohort.cohorts.local_time import WEEKDAYS, in_zone
from nbcohort.cohorts.models import Cohort, Idea, IdeaEndorsement, Member, Post, Thread, utcnow
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.ideas import idea_rules
from nbcohort.cohorts.services.members import public_member
from nbcohort.cohorts.services.notifications import section_link
from nbcohort.cohorts.services.pilots import cohort_today, list_pilots
from nbcohort.cohorts.services.rhythm import rhythm_of

__all__ = ["leader_nudges", "nudge_rules", "nudge_week", "nudges_step"]

_EXCERPT = 160


def nudge_rules(cohort: Cohort) -> Nudges:
    """The cohort file's ``[nudges]``, or the kit's defaults for a cohort without one."""
    spec = rhythm_of(cohort)
    return spec.nudges if spec is not None else Nudges()


def _excerpt(markdown: str) -> str:
    flat = " ".join(markdown.split())
    return flat if len(flat) <= _EXCERPT else flat[: _EXCERPT - 1] + "…"


def _unanswered(session: Session, cohort: Cohort, rules: Nudges) -> list[dict[str, Any]]:
    reply = aliased(Post)
    answered = exists().where(  # a reply is in its parent's thread: the thread's index serves
        reply.thread_id == Post.thread_id,
        reply.parent_id == Post.id,
        reply.author_id != Post.author_id,
        reply.deleted.is_(False),
    )
    rows: list[Any] = list(
        session.execute(
            select(Post, Thread.anchor, Thread.title, Member)
            .join(Thread, Thread.id == Post.thread_id)
            .join(Member, Member.id == Post.author_id)
            .where(
                Thread.cohort_id == cohort.id,
                Thread.kind != "prompt",
                Post.parent_id.is_(None),
                Post.deleted.is_(False),
                Post.hidden.is_(False),
                Member.left_at.is_(None),  # nobody is left to answer
                Post.created_at < utcnow() - timedelta(hours=rules.unanswered_hours),
                ~answered,
            )
            .order_by(Post.created_at, Post.id)
            .limit(500)
        ).all()
    )
    rows.sort(key=lambda r: ("?" not in r[0].body_md, r[0].created_at, r[0].id))
    return [
        {
            "post_id": post.id,
            "anchor": anchor,
            "thread": title or anchor,
            "author": public_member(author),
            "created_at": post.created_at.isoformat(),
            "hours": int((utcnow() - post.created_at).total_seconds() // 3600),
            "excerpt": _excerpt(post.body_md),
            "link": section_link(cohort, anchor),
        }
        for post, anchor, title, author in rows[: rules.size]
    ]


def _near_ideas(session: Session, cohort: Cohort, rules: Nudges) -> list[dict[str, Any]]:
    threshold = idea_rules(cohort).endorsements
    count = func.count(IdeaEndorsement.id)
    rows = session.execute(
        select(Idea, Post, Thread.anchor, count)
        .join(Post, Post.id == Idea.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .outerjoin(IdeaEndorsement, IdeaEndorsement.idea_id == Idea.id)
        .where(
            Idea.cohort_id == cohort.id,
            Idea.state == "open",
            Post.deleted.is_(False),
            Post.hidden.is_(False),
        )
        .group_by(Idea.id, Post.id, Thread.anchor)
        .having(count >= max(0, threshold - rules.near))
        .order_by(count.desc(), Idea.id)
        .limit(rules.size)
    ).all()
    return [
        {
            "idea_id": idea.id,
            "post_id": post.id,
            "anchor": anchor,
            "endorsements": int(n),
            "threshold": threshold,
            "excerpt": _excerpt(post.body_md),
            "link": section_link(cohort, anchor),
        }
        for idea, post, anchor, n in rows
    ]


def _due_pilots(
    session: Session, actor: Actor, cohort: Cohort, rules: Nudges
) -> list[dict[str, Any]]:
    until = (cohort_today(cohort) + timedelta(days=rules.review_days)).isoformat()
    due = [p for p in list_pilots(session, actor, cohort, "active") if p["review_on"] <= until]
    return due[: rules.size]


def nudge_week(cohort: Cohort, when: datetime | None = None) -> str:
    """The Monday (ISO date, the cohort's zone) of the week ``when`` falls in."""
    local = (when or utcnow()).astimezone(in_zone(cohort.timezone)).date()
    return (local - timedelta(days=local.weekday())).isoformat()


def leader_nudges(session: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
    """This week's nudges for a sponsor (staff may read them too)."""
    require(actor, "nudge.read", cohort.id)
    rules = nudge_rules(cohort)
    out: dict[str, Any] = {"week": nudge_week(cohort), "enabled": rules.enabled}
    if not rules.enabled:
        return {**out, "unanswered": [], "ideas": [], "pilots": [], "count": 0}
    out["unanswered"] = _unanswered(session, cohort, rules)
    out["ideas"] = _near_ideas(session, cohort, rules)
    out["pilots"] = _due_pilots(session, actor, cohort, rules)
    out["count"] = len(out["unanswered"]) + len(out["ideas"]) + len(out["pilots"])
    out["rule"] = {
        "unanswered_hours": rules.unanswered_hours,
        "near": rules.near,
        "review_days": rules.review_days,
        "size": rules.size,
    }
    return out


def _send_time_passed(cohort: Cohort, rules: Nudges, now: datetime) -> bool:
    local = now.astimezone(in_zone(cohort.timezone))
    return WEEKDAYS[local.weekday()] == rules.day and local.time() >= rules.send_at


def nudges_step(ctx: Any) -> str:
    """``nbcohort cadence tick``'s ``nudges`` step: on the nudge day, after ``send_at``, queue
    each active sponsor's nudges by email once that week (``nudges:<week>:<member>``; a
    sponsor without an address reads them in the notebook only)."""
    rules = ctx.spec.nudges
    if not rules.enabled or not _send_time_passed(ctx.cohort, rules, ctx.now):
        return "nothing due"
    from nbcohort.cohorts.mail.queue import queue_message
    from nbcohort.cohorts.models import OutboxMessage, clock_at
    from nbcohort.cohorts.services.cadence_tick import rhythm_mailer

    week = nudge_week(ctx.cohort, ctx.now)
    with ctx.store.read() as s:
        sponsors = list(
            s.scalars(
                select(Member.id).where(
                    Member.cohort_id == ctx.cohort.id,
                    Member.role == "sponsor",
                    Member.active.is_(True),
                    Member.email.is_not(None),
                )
            )
        )
        keys = {f"nudges:{week}:{m}" for m in sponsors}
        sent = set(s.scalars(select(OutboxMessage.dedupe_key).where(
            OutboxMessage.dedupe_key.in_(keys)))) if keys else set()  # fmt: skip
    todo = [m for m in sponsors if f"nudges:{week}:{m}" not in sent]
    if not todo:
        return "nothing due"
    mailer = rhythm_mailer(ctx.config)
    queued = 0
    with clock_at(ctx.now), ctx.store.write() as s:
        cohort = s.merge(ctx.cohort)
        for member in s.scalars(select(Member).where(Member.id.in_(todo))):
            found = leader_nudges(s, Actor.of(member), cohort)
            if not found["count"]:
                continue
            for row in found["unanswered"] + found["ideas"]:
                row["url"] = mailer.notebook_url(row["link"])
            key = f"nudges:{week}:{member.id}"
            queued += int(queue_message(s, mailer, member, "nudges", key, nudges=found))
    return f"{queued} sponsors' nudges queued" if queued else "nothing due"
