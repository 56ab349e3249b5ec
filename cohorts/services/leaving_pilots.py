"""What leaving does to pilots (``leaving.leave``, in its transaction).

Under the ``remove`` rule the leaver's words go from pilots too, not only from their posts: a
pilot's title that was the start of their idea's post (the default ``pilots.make_pilot``
gives) becomes ``REMOVED_TITLE``, also in the ``idea_piloted`` and ``pilot_owner``
notifications that carried it; their status updates read ``REMOVED_NOTE``, and so does the
outcome of a pilot they closed. A title a facilitator typed is the facilitator's and stays.

Whatever the rule, an active pilot the leaver owned keeps its history under "former member"
(as their shared artifacts do), and the cohort's facilitators (the instructors when it has
none) are told it lost its owner (``pilot_orphaned``): they post its updates or stop it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import (
    Activity,
    Idea,
    Member,
    Notification,
    Pilot,
    PilotUpdate,
    Post,
)
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.services.notifications import notify_members
from nbcohort.cohorts.services.pages import REMOVED_NOTE
from nbcohort.cohorts.services.pilots import default_title

__all__ = ["REMOVED_TITLE", "orphan_pilots", "remove_pilot_texts"]

REMOVED_TITLE = "pilot from a post removed at the author's request"
_CARRY_TITLE = ("idea_piloted", "pilot_owner", "pilot_orphaned")


def remove_pilot_texts(session: Session, member: Member) -> int:
    """Take ``member``'s words out of the cohort's pilots (before their posts are wiped: a
    default title is known from the log of the pilot's making, or by the post it came from).
    How many pilots changed."""
    changed: set[int] = set()
    retitled: set[int] = set()
    from_posts = session.execute(
        select(Pilot, Post.body_md)
        .join(Idea, Idea.id == Pilot.idea_id)
        .join(Post, Post.id == Idea.post_id)
        .where(Pilot.cohort_id == member.cohort_id, Post.author_id == member.id)
    ).all()
    from_post = _titles_from_posts(session, [pilot.id for pilot, _body in from_posts])
    for pilot, body in from_posts:
        # Known from the log when the pilot was made; before that was logged, by the text.
        if from_post.get(pilot.id, pilot.title == default_title(body)):
            pilot.title = REMOVED_TITLE
            retitled.add(pilot.id)
    if retitled:
        for note in session.scalars(
            select(Notification)
            .join(Member, Member.id == Notification.member_id)
            .where(Member.cohort_id == member.cohort_id, Notification.kind.in_(_CARRY_TITLE))
        ):
            data = dict(note.data or {})
            if data.get("pilot_id") in retitled:
                note.data = {**data, "title": REMOVED_TITLE}  # a new dict: JSON is not tracked
    removed_html = render_markdown(REMOVED_NOTE)
    updates = session.execute(
        select(PilotUpdate, Pilot)
        .join(Pilot, Pilot.id == PilotUpdate.pilot_id)
        .where(Pilot.cohort_id == member.cohort_id, PilotUpdate.author_id == member.id)
    ).all()
    for update, pilot in updates:
        update.body_md, update.body_html = REMOVED_NOTE, removed_html
        if update.status != "active" and pilot.outcome:  # the update that closed it
            pilot.outcome = REMOVED_NOTE
        changed.add(pilot.id)
    return len(changed | retitled)


def _titles_from_posts(session: Session, pilot_ids: list[int]) -> dict[int, bool]:
    """For each pilot whose making logged it: whether its title was the post's own start
    (so the post's later edits do not hide it)."""
    if not pilot_ids:
        return {}
    rows = session.execute(
        select(Activity.object_id, Activity.data).where(
            Activity.verb == "pilot.create",
            Activity.object_type == "pilot",
            Activity.object_id.in_(pilot_ids),
        )
    )
    return {
        int(pid): bool(data["title_from_post"])
        for pid, data in rows
        if isinstance(data, dict) and "title_from_post" in data
    }


def orphan_pilots(session: Session, member: Member) -> list[int]:
    """Tell the facilitators (else the instructors) about each active pilot ``member``
    owned; the pilots' ids."""
    pilots = list(
        session.scalars(
            select(Pilot)
            .where(
                Pilot.cohort_id == member.cohort_id,
                Pilot.owner_id == member.id,
                Pilot.status == "active",
            )
            .order_by(Pilot.id)
        )
    )
    if not pilots:
        return []
    base = select(Member.id).where(
        Member.cohort_id == member.cohort_id,
        Member.active.is_(True),
        Member.left_at.is_(None),
        Member.id != member.id,
    )
    staff = list(session.scalars(base.where(Member.role == "facilitator")))
    staff = staff or list(session.scalars(base.where(Member.role == "instructor")))
    for pilot in pilots:
        data = {"pilot_id": pilot.id, "idea_id": pilot.idea_id, "title": pilot.title}
        notify_members(session, "pilot_orphaned", {m: dict(data) for m in staff})
    return [p.id for p in pilots]
