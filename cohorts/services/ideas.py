"""Ideas (#16 part 3): a post marked as an idea by its author or a champion, endorsed by
members (once each), escalated to the facilitators at the cohort file's threshold
(``[ideas] endorsements``), then turned into a pilot (``pilots.py``) or declined with a
reason its author sees.

Once each is the database's rule (the unique (idea, member) of ``idea_endorsement``), not a
check before an insert; an endorsement first locks its idea's row, so two endorsements at
once on PostgreSQL count each other and the one that reaches the threshold escalates it,
once (a conditional state flip).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from nbcohort.cohorts.idea_file import Ideas
from nbcohort.cohorts.models import (
    Cohort,
    Idea,
    IdeaEndorsement,
    Member,
    Notification,
    Pilot,
    Post,
    Thread,
    utcnow,
)
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.members import public_member
from nbcohort.cohorts.services.rhythm import rhythm_of
from nbcohort.cohorts.services.threads import clean_anchor
from nbcohort.cohorts.services.unique import insert_if_absent
from nbcohort.cohorts.services.visibility import reach_post

__all__ = [
    "IDEA_STATES",
    "MAX_REASON",
    "decline_idea",
    "endorse_idea",
    "idea_rules",
    "ideas_in_thread",
    "list_ideas",
    "lock_idea",
    "mark_idea",
    "still_member",
]

IDEA_STATES = ("open", "escalated", "piloted", "declined")
MAX_REASON = 1000
_EXCERPT = 160
_IDEA = cast(Table, Idea.__table__)
_ENDORSEMENT = cast(Table, IdeaEndorsement.__table__)
_MARKERS = frozenset({"champion", "facilitator", "instructor"})  # besides the post's author


def idea_rules(cohort: Cohort) -> Ideas:
    """The cohort file's ``[ideas]``, or the kit's defaults for a cohort without one."""
    spec = rhythm_of(cohort)
    return spec.ideas if spec is not None else Ideas()


def _require_ideas(cohort: Cohort) -> None:
    """Refuse when the cohort file turns ideas off (``[ideas] enabled = false``)."""
    if not idea_rules(cohort).enabled:
        raise Forbidden(
            f"ideas are turned off in cohort {cohort.slug} ([ideas] enabled = false in its "
            "cohort file)"
        )


def lock_idea(session: Session, actor: Actor, idea_id: int) -> Idea:
    """The idea, its row locked until the transaction ends (PostgreSQL; SQLite's writers
    queue anyway). Another cohort's idea does not exist for the actor."""
    idea = session.scalar(
        select(Idea)
        .where(Idea.id == idea_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if idea is None or (not actor.is_system and idea.cohort_id != actor.cohort_id):
        raise NotFound(f"no idea {idea_id}", field="idea_id")
    return idea


def mark_idea(session: Session, actor: Actor, post_id: int) -> dict[str, Any]:
    """Mark a post as an idea: its author may, and champions and staff may mark anyone's.
    Marking again changes nothing."""
    require(actor, "idea.mark", actor.cohort_id)
    post = reach_post(session, actor, post_id, "react")  # live, shown, in the actor's cohort
    if post.author_id != actor.member_id and not (actor.is_system or actor.role in _MARKERS):
        raise Forbidden(
            f"only its author or a champion may mark post {post_id} as an idea", field="post_id"
        )
    thread = session.get_one(Thread, post.thread_id)
    _require_ideas(session.get_one(Cohort, thread.cohort_id))
    if thread.kind == "prompt":
        raise Invalid("an answer to a micro-prompt cannot be an idea", field="post_id")
    row = {
        "cohort_id": thread.cohort_id,
        "post_id": post.id,
        "marked_by": actor.member_id,
        "state": "open",
        "created_at": utcnow(),
        "decline_reason": "",
    }
    if insert_if_absent(session, _IDEA, row):
        idea = session.scalars(select(Idea).where(Idea.post_id == post.id)).one()
        record(session, thread.cohort_id, actor.member_id, "idea.mark", idea, post=post.id)
    return ideas_in_thread(session, actor, thread.cohort_id, [post.id])[post.id]


def endorse_idea(session: Session, actor: Actor, idea_id: int) -> dict[str, Any]:
    """Endorse an idea, once; not one's own. At the threshold the idea is escalated: the
    facilitators are notified and find it in their list."""
    require(actor, "idea.endorse", actor.cohort_id)
    idea = lock_idea(session, actor, idea_id)
    cohort = session.get_one(Cohort, idea.cohort_id)
    _require_ideas(cohort)  # so no idea is escalated either
    post = reach_post(session, actor, idea.post_id, "react")
    if post.author_id == actor.member_id:
        raise Invalid("you cannot endorse your own idea", field="idea_id")
    if idea.state in ("piloted", "declined"):
        raise Conflict(f"idea {idea_id} was {idea.state}: it takes no endorsement", field="idea_id")
    row = {"idea_id": idea.id, "member_id": actor.member_id, "created_at": utcnow()}
    if not insert_if_absent(session, _ENDORSEMENT, row):
        raise Conflict(f"you already endorsed idea {idea_id}", field="idea_id")
    record(session, idea.cohort_id, actor.member_id, "idea.endorse", idea, post=post.id)
    count = _endorsements(session, idea.id)
    if count >= idea_rules(cohort).endorsements and idea.state == "open":
        _escalate(session, idea, post, count)
    return ideas_in_thread(session, actor, idea.cohort_id, [post.id])[post.id]


def _endorsements(session: Session, idea_id: int) -> int:
    found = select(func.count()).where(IdeaEndorsement.idea_id == idea_id)
    return int(session.scalar(found) or 0)


def _escalate(session: Session, idea: Idea, post: Post, count: int) -> None:
    """Open -> escalated, once (the conditional flip), with a notification to each active
    facilitator (the instructors when the cohort has none)."""
    flipped = session.execute(
        update(Idea)
        .where(Idea.id == idea.id, Idea.state == "open")
        .values(state="escalated", escalated_at=utcnow())
        .returning(Idea.id)
        .execution_options(synchronize_session=False)
    ).first()
    if flipped is None:
        return
    session.refresh(idea)
    staff = _facilitators(session, idea.cohort_id)
    for member_id in staff:
        session.add(
            Notification(
                member_id=member_id,
                kind="idea_escalated",
                post_id=post.id,
                actor_id=None,
                data={"idea_id": idea.id, "endorsements": count},
            )
        )
    record(session, idea.cohort_id, None, "idea.escalate", idea, endorsements=count, notified=staff)


def _facilitators(session: Session, cohort_id: int) -> list[int]:
    base = select(Member.id).where(Member.cohort_id == cohort_id, Member.active.is_(True))
    found = list(session.scalars(base.where(Member.role == "facilitator").order_by(Member.id)))
    return found or list(
        session.scalars(base.where(Member.role == "instructor").order_by(Member.id))
    )


def still_member(session: Session, member_id: int) -> bool:
    """Whether the member has not left the cohort (a leaver gets no notifications)."""
    member = session.get(Member, member_id)
    return member is not None and member.left_at is None


def decline_idea(session: Session, actor: Actor, idea_id: int, reason: str) -> dict[str, Any]:
    """Staff decline an idea with a reason, which its author is notified of and sees."""
    require(actor, "idea.decide", actor.cohort_id)
    idea = lock_idea(session, actor, idea_id)
    text = (reason or "").strip()
    if not text:
        raise Invalid("a reason is required to decline an idea", field="reason")
    if len(text) > MAX_REASON:
        raise Invalid(f"reason must be at most {MAX_REASON} characters", field="reason")
    if idea.state in ("piloted", "declined"):
        raise Conflict(f"idea {idea_id} was already {idea.state}", field="idea_id")
    idea.state, idea.decline_reason = "declined", text
    idea.decided_by, idea.decided_at = actor.member_id, utcnow()
    post = session.get_one(Post, idea.post_id)
    if still_member(session, post.author_id):  # a member who left is told nothing more
        session.add(
            Notification(
                member_id=post.author_id,
                kind="idea_declined",
                post_id=post.id,
                actor_id=actor.member_id,
                data={"idea_id": idea.id, "reason": text},
            )
        )
    record(session, idea.cohort_id, actor.member_id, "idea.decline", idea, reason=text)
    return ideas_in_thread(session, actor, idea.cohort_id, [post.id])[post.id]


def _excerpt(markdown: str) -> str:
    flat = " ".join(markdown.split())
    return flat if len(flat) <= _EXCERPT else flat[: _EXCERPT - 1] + "…"


def _rows(session: Session, actor: Actor, cohort_id: int, *where: Any) -> list[dict[str, Any]]:
    """Ideas as ``actor`` sees them: endorsements, whether they endorsed, the pilot made of
    it; a deleted post's idea is gone, a hidden one's is for staff only."""
    staff = actor.can("post.moderate")
    author = Member
    query = (
        select(Idea, Post, Thread.anchor, author, Pilot.id.label("pilot_id"))
        .join(Post, Post.id == Idea.post_id)
        .join(Thread, Thread.id == Post.thread_id)
        .join(author, author.id == Post.author_id)
        .outerjoin(Pilot, Pilot.idea_id == Idea.id)
        .where(Idea.cohort_id == cohort_id, Post.deleted.is_(False), *where)
        .order_by(Idea.id)
    )
    if not staff:
        query = query.where(Post.hidden.is_(False))
    found = session.execute(query).all()
    ids = [r[0].id for r in found]
    counts: dict[int, int] = {}
    mine: set[int] = set()
    if ids:
        counts = dict(
            session.execute(
                select(IdeaEndorsement.idea_id, func.count())
                .where(IdeaEndorsement.idea_id.in_(ids))
                .group_by(IdeaEndorsement.idea_id)
            ).all()
        )
        if actor.member_id is not None:
            mine = set(
                session.scalars(
                    select(IdeaEndorsement.idea_id).where(
                        IdeaEndorsement.idea_id.in_(ids),
                        IdeaEndorsement.member_id == actor.member_id,
                    )
                )
            )
    threshold = idea_rules(session.get_one(Cohort, cohort_id)).endorsements
    out = []
    for idea, post, anchor, writer, pilot_id in found:
        own = post.author_id == actor.member_id
        out.append(
            {
                "id": idea.id,
                "post_id": post.id,
                "anchor": anchor,
                "excerpt": _excerpt(post.body_md),
                "author": public_member(writer),
                "state": idea.state,
                "endorsements": int(counts.get(idea.id, 0)),
                "threshold": threshold,
                "endorsed": idea.id in mine,
                "can_endorse": (
                    actor.can("idea.endorse")
                    and not own
                    and idea.id not in mine
                    and idea.state in ("open", "escalated")
                ),
                "can_decide": actor.can("idea.decide") and idea.state in ("open", "escalated"),
                "created_at": idea.created_at.isoformat(),
                "escalated_at": idea.escalated_at.isoformat() if idea.escalated_at else None,
                # The reason is for the idea's author and staff.
                "decline_reason": idea.decline_reason if (own or staff) else "",
                "pilot_id": pilot_id,
            }
        )
    return out


def ideas_in_thread(
    session: Session,
    actor: Actor,
    cohort_id: int,
    post_ids: list[int] | None = None,
    anchor: str | None = None,
) -> dict[int, dict[str, Any]]:
    """post id -> its idea, for the posts given or the thread at ``anchor`` (what the
    discussion widget shows beside each post)."""
    require(actor, "thread.read", cohort_id)
    where: list[Any] = []
    if post_ids is not None:
        where.append(Idea.post_id.in_(post_ids))
    if anchor is not None:
        where.append(Thread.anchor == clean_anchor(anchor))
    return {row["post_id"]: row for row in _rows(session, actor, cohort_id, *where)}


def list_ideas(
    session: Session, actor: Actor, cohort: Cohort, state: str | None = None
) -> list[dict[str, Any]]:
    """The cohort's ideas (in one state, or all), oldest first; the facilitators' list is
    ``state="escalated"``."""
    require(actor, "thread.read", cohort.id)
    if state is not None and state not in IDEA_STATES:
        raise Invalid(f"state must be one of {', '.join(IDEA_STATES)}", field="state")
    where = [Idea.state == state] if state else []
    return _rows(session, actor, cohort.id, *where)
