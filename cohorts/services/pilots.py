"""Pilots (#16 part 3): a facilitator turns an idea into a pilot with an owner, a goal, a
measure and a review date; the owner (or staff) posts status updates until its outcome.

``pilot.create`` is logged with the owner (``owner=<member id>``): the badge rule on
``pilot_owned`` (``badge_file.py``) counts it, so the owner gets the pilot-owner badge at the
next badge evaluation (the tick's ``badges`` step, or ``nbcohort badges backfill``). One
pilot per idea is the database's rule (the unique ``pilot.idea_id``).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.local_time import in_zone
from nbcohort.cohorts.models import (
    Cohort,
    Idea,
    Member,
    Notification,
    Pilot,
    PilotUpdate,
    Post,
    Thread,
    utcnow,
)
from nbcohort.cohorts.plain_text import unseen_characters
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.ideas import lock_idea, still_member
from nbcohort.cohorts.services.members import public_member

__all__ = [
    "MAX_TEXT",
    "PILOT_STATUSES",
    "REVIEW_HORIZON_DAYS",
    "cohort_today",
    "default_title",
    "list_pilots",
    "make_pilot",
    "pilot_detail",
    "review_date",
    "update_pilot",
]

PILOT_STATUSES = ("active", "done", "stopped")
MAX_TEXT = 4000
MAX_TITLE = 200
_YMD = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
REVIEW_HORIZON_DAYS = 3 * 366  # a review further away than this is not a review date


def cohort_today(cohort: Cohort) -> date:
    """Today in the cohort's time zone (a review date is a day of the cohort's calendar)."""
    return utcnow().astimezone(in_zone(cohort.timezone)).date()


def review_date(value: object, cohort: Cohort) -> date:
    """``value`` (a date or ``YYYY-MM-DD``) as a review date: today or later, within
    ``REVIEW_HORIZON_DAYS``; anything else is refused naming ``review_on``."""
    if isinstance(value, str):
        raw = value.strip()
        try:
            if not _YMD.match(raw):  # fromisoformat alone takes 20270101 and 2027-W01-1 too
                raise ValueError(raw)
            value = date.fromisoformat(raw)
        except ValueError:
            raise Invalid(
                f"review_on must be a date as YYYY-MM-DD, not {raw[:40]!r}", field="review_on"
            ) from None
    if not isinstance(value, date):
        raise Invalid("review_on must be a date as YYYY-MM-DD", field="review_on")
    today = cohort_today(cohort)
    if value < today:
        raise Invalid(f"review_on {value} is in the past (today is {today})", field="review_on")
    if value > today + timedelta(days=REVIEW_HORIZON_DAYS):
        raise Invalid(
            f"review_on {value} is more than {REVIEW_HORIZON_DAYS} days away", field="review_on"
        )
    return value


def _text(
    value: object,
    field: str,
    limit: int = MAX_TEXT,
    *,
    required: bool = True,
    what: str = "",
    line: bool = True,
) -> str:
    """``value`` stripped and checked; a one-line field (``line``: the title, goal, measure
    and outcome, which lists and the command line show as they are) refuses control,
    direction-changing and invisible characters, as a topic's title does."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be text", field=field)
    text = value.strip()
    if required and not text:
        article = "an" if field[0] in "aeiou" else "a"
        raise Invalid(f"{what or 'a pilot'} needs {article} {field}", field=field)
    if len(text) > limit:
        raise Invalid(f"{field} must be at most {limit} characters", field=field)
    bad = unseen_characters(text) if line else []
    if bad:
        raise Invalid(
            f"{field} cannot hold control or invisible characters ({', '.join(bad)})",
            field=field,
        )
    return text


def _owner(session: Session, cohort: Cohort, owner_id: object) -> Member:
    if owner_id is None or owner_id == "":
        raise Invalid("a pilot needs an owner", field="owner_id")
    if isinstance(owner_id, bool) or not isinstance(owner_id, int):
        raise Invalid("owner_id must be a member's id", field="owner_id")
    member = session.get(Member, owner_id) if 1 <= owner_id <= 2**31 - 1 else None
    if member is None or member.cohort_id != cohort.id:
        raise Invalid(f"member {owner_id} is not a member of this cohort", field="owner_id")
    if member.left_at is not None or not member.active:
        raise Invalid(
            f"member {owner_id} is no longer an active member of the cohort; a pilot's owner "
            "must be one",
            field="owner_id",
        )
    return member


def make_pilot(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    idea_id: int,
    *,
    owner_id: object,
    goal: object,
    measure: object,
    review_on: object,
    title: object = "",
) -> dict[str, Any]:
    """Turn an open or escalated idea into a pilot (staff). The owner and the idea's author
    are notified; ``pilot.create`` is logged with the owner for the pilot-owner badge."""
    require(actor, "idea.decide", cohort.id)
    idea = lock_idea(session, actor, idea_id)
    if idea.cohort_id != cohort.id:
        raise NotFound(f"no idea {idea_id}", field="idea_id")
    if idea.state in ("piloted", "declined"):
        raise Conflict(f"idea {idea_id} was already {idea.state}", field="idea_id")
    post = session.get_one(Post, idea.post_id)
    if post.deleted:
        raise Conflict(f"the post of idea {idea_id} was deleted", field="idea_id")
    owner = _owner(session, cohort, owner_id)
    goal_text = _text(goal, "goal")
    measure_text = _text(measure, "measure")
    review = review_date(review_on, cohort)
    typed = _text(title, "title", MAX_TITLE, required=False)
    name = typed or default_title(post.body_md)
    now = utcnow()
    pilot = Pilot(
        cohort_id=cohort.id,
        idea_id=idea.id,
        owner_id=owner.id,
        title=name,
        goal=goal_text,
        measure=measure_text,
        review_on=review,
        status="active",
        outcome="",
        created_by=actor.member_id,
        created_at=now,
        updated_at=now,
    )
    session.add(pilot)
    idea.state, idea.decided_by, idea.decided_at = "piloted", actor.member_id, now
    session.flush()  # the unique idea_id decides a race between two facilitators
    told = {owner.id: "pilot_owner"}
    if still_member(session, post.author_id):
        told[post.author_id] = "idea_piloted"  # a member who left is told nothing more
    for member_id, kind in told.items():
        session.add(
            Notification(
                member_id=member_id,
                kind=kind,
                post_id=post.id,
                actor_id=actor.member_id,
                data={"pilot_id": pilot.id, "idea_id": idea.id, "title": name},
            )
        )
    record(
        session,
        cohort.id,
        actor.member_id,
        "pilot.create",
        pilot,
        owner=owner.id,
        idea=idea.id,
        post=post.id,
        review_on=review.isoformat(),
        title_from_post=not typed,  # the post's author's words (leaving_pilots.py)
    )
    return pilot_detail(session, actor, cohort, pilot.id)


def default_title(markdown: str) -> str:
    """The default title: the start of the idea's post on one line, without the characters
    a typed title may not hold."""
    flat = " ".join(markdown.replace("#", " ").split())
    flat = "".join(c for c in flat if not unseen_characters(c))
    return flat if len(flat) <= 80 else flat[:79] + "…"


def update_pilot(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    pilot_id: int,
    *,
    note: object,
    status: object = "active",
    outcome: object = "",
) -> dict[str, Any]:
    """A status update by the pilot's owner or staff. ``status`` done or stopped closes the
    pilot and needs its ``outcome``; a closed pilot takes no more updates."""
    require(actor, "pilot.update", cohort.id)
    pilot = _pilot(session, actor, cohort, pilot_id, lock=True)
    if pilot.owner_id != actor.member_id and not (actor.is_system or actor.can("idea.decide")):
        raise Forbidden("only the pilot's owner or a facilitator posts its updates")
    if status not in PILOT_STATUSES:
        raise Invalid(f"status must be one of {', '.join(PILOT_STATUSES)}", field="status")
    if pilot.status != "active":
        raise Conflict(f"pilot {pilot_id} is {pilot.status}: it takes no update", field="pilot_id")
    text = _text(note, "note", what="a status update", line=False)  # Markdown, sanitized
    closing = status != "active"
    result = _text(outcome, "outcome", required=closing, what=f"a {status} pilot")
    if not closing and result:
        raise Invalid("an outcome is given when the pilot is done or stopped", field="outcome")
    now = utcnow()
    assert isinstance(status, str)
    session.add(
        PilotUpdate(
            pilot_id=pilot.id,
            author_id=actor.member_id,
            status=status,
            body_md=text,
            body_html=render_markdown(text),
            created_at=now,
        )
    )
    pilot.status, pilot.updated_at = status, now
    if closing:
        pilot.outcome = result
    record(session, cohort.id, actor.member_id, "pilot.update", pilot, status=status)
    return pilot_detail(session, actor, cohort, pilot.id)


def _pilot(
    session: Session, actor: Actor, cohort: Cohort, pilot_id: int, *, lock: bool = False
) -> Pilot:
    query = select(Pilot).where(Pilot.id == pilot_id)
    if lock:
        query = query.with_for_update()
    pilot = session.scalar(query)
    if pilot is None or pilot.cohort_id != cohort.id:
        raise NotFound(f"no pilot {pilot_id}", field="pilot_id")
    return pilot


def _view(pilot: Pilot, owner: Member | None, anchor: str | None, post_id: int | None,
          updates: int, today: date) -> dict[str, Any]:  # fmt: skip
    return {
        "id": pilot.id,
        "idea_id": pilot.idea_id,
        "post_id": post_id,
        "anchor": anchor,
        "title": pilot.title,
        "owner": public_member(owner) if owner is not None else None,
        "goal": pilot.goal,
        "measure": pilot.measure,
        "review_on": pilot.review_on.isoformat(),
        "review_due": pilot.status == "active" and pilot.review_on <= today,
        "status": pilot.status,
        "outcome": pilot.outcome,
        "updates": updates,
        # One line for the cohort page's Pilots section (widgets/display/sections.py).
        "summary": f"{pilot.status} · review on {pilot.review_on.isoformat()}",
        "member": public_member(owner) if owner is not None else None,
        "created_at": pilot.created_at.isoformat(),
        "updated_at": pilot.updated_at.isoformat(),
    }


def _query() -> Any:
    count = (
        select(func.count())
        .where(PilotUpdate.pilot_id == Pilot.id)
        .correlate(Pilot)
        .scalar_subquery()
    )
    return (
        select(Pilot, Member, Thread.anchor, Post.id, count)
        .outerjoin(Member, Member.id == Pilot.owner_id)
        .outerjoin(Idea, Idea.id == Pilot.idea_id)
        .outerjoin(Post, Post.id == Idea.post_id)
        .outerjoin(Thread, Thread.id == Post.thread_id)
    )


def list_pilots(
    session: Session, actor: Actor, cohort: Cohort, status: str | None = None
) -> list[dict[str, Any]]:
    """The cohort's pilots (every member of the cohort, sponsors included, sees them),
    active ones first, soonest review first."""
    require(actor, "cohort.read", cohort.id)
    if status is not None and status not in PILOT_STATUSES:
        raise Invalid(f"status must be one of {', '.join(PILOT_STATUSES)}", field="status")
    query = _query().where(Pilot.cohort_id == cohort.id)
    if status:
        query = query.where(Pilot.status == status)
    today = cohort_today(cohort)
    rows = [_view(p, o, a, pid, int(n), today) for p, o, a, pid, n in session.execute(query)]
    rows.sort(key=lambda r: (r["status"] != "active", r["review_on"], r["id"]))
    return rows


def pilot_detail(session: Session, actor: Actor, cohort: Cohort, pilot_id: int) -> dict[str, Any]:
    """One pilot with its status updates, oldest first."""
    require(actor, "cohort.read", cohort.id)
    found = session.execute(_query().where(Pilot.id == pilot_id)).first()
    if found is None or found[0].cohort_id != cohort.id:
        raise NotFound(f"no pilot {pilot_id}", field="pilot_id")
    pilot, owner, anchor, post_id, n = found
    out = _view(pilot, owner, anchor, post_id, int(n), cohort_today(cohort))
    authors = select(PilotUpdate, Member).outerjoin(Member, Member.id == PilotUpdate.author_id)
    out["history"] = [
        {
            "id": u.id,
            "status": u.status,
            "html": u.body_html,
            "author": public_member(m) if m is not None else None,
            "created_at": u.created_at.isoformat(),
        }
        for u, m in session.execute(
            authors.where(PilotUpdate.pilot_id == pilot.id).order_by(PilotUpdate.id)
        )
    ]
    out["can_update"] = pilot.status == "active" and (
        pilot.owner_id == actor.member_id or actor.is_system or actor.can("idea.decide")
    )
    return out
