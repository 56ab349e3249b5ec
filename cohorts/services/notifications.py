"""What a member should see: replies to their posts, mentions, reviews assigned to them and
of their work, their onboarding step; the @mention lookup; read marks; and each
notification described once, for the notebook and for email alike (``describe``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import CadenceItem, Cohort, Member, Notification, Post, Thread, utcnow
from nbcohort.cohorts.sanitize import find_mentions
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Forbidden, NotFound, ServiceError
from nbcohort.cohorts.services.visibility import reach_post

__all__ = [
    "KINDS",
    "describe",
    "list_notifications",
    "mark_all_read",
    "mark_read",
    "notify_members",
    "notify_post",
    "notify_reviewers",
    "resolve_mentions",
    "section_link",
    "today_items",
    "unread_counts",
]

# Every kind of notification, as members read them.
KINDS = {
    "reply": "replies to my posts",
    "mention": "mentions",
    "review": "reviews I still have to write (a reminder)",
    "review_assigned": "reviews assigned to me",
    "review_received": "reviews of my work",
    "onboarding": "my onboarding step",
    "welcome": "a champion's welcome on my first post",
    # Ideas to pilots and leader nudges (#16 parts 3, 4).
    "idea_escalated": "ideas endorsed enough to decide on (facilitators)",
    "idea_declined": "my ideas declined, with the reason",
    "idea_piloted": "my ideas turned into pilots",
    "pilot_owner": "pilots I own",
    "nudges": "threads where a leader's reply would help (sponsors)",
    # Moderation (#16 part 8): what was decided about my held post or my appeal, and why.
    "moderation": "decisions on my held posts and appeals, with the reason",
    # Leaving (#16 part 6): reviews a member who left still owed that could not move to the
    # backup pool with the leave (and why), for staff to move.
    "reviews_orphaned": "reviews a member who left still owed (instructors)",
    # ...and the active pilots they owned, for the facilitators to carry on or stop.
    "pilot_orphaned": "pilots whose owner left (facilitators)",
}
_EXCERPT = 200
# What each kind's ``data`` holds (so templates and widgets may rely on every key).
_DATA_KEYS: dict[str, dict[str, Any]] = {
    "review": {"assignment": ""},
    "review_assigned": {"assignment": "", "count": 1, "due_at": None},
    "review_received": {"assignment": ""},
    "onboarding": {"step": "", "title": "", "text": "", "link": None},
}


def resolve_mentions(session: Session, cohort_id: int, text: str) -> dict[str, int]:
    """The @usernames in ``text`` that are active members of the cohort (others stay text)."""
    names = find_mentions(text)
    if not names:
        return {}
    rows = session.execute(
        select(Member.username, Member.id).where(
            Member.cohort_id == cohort_id, Member.active.is_(True), Member.username.in_(names)
        )
    )
    return {name: member_id for name, member_id in rows}


def notify_post(
    session: Session, post: Post, mentioned: dict[str, int], parent: Post | None
) -> int:
    """Tell mentioned members, and the author replied to, about ``post`` (once each)."""
    targets: dict[int, str] = {}
    if parent is not None and parent.author_id != post.author_id:
        targets[parent.author_id] = "reply"
    for member_id in mentioned.values():
        targets[member_id] = "mention"
    targets.pop(post.author_id, None)
    if not targets:
        return 0
    already = set(
        session.scalars(select(Notification.member_id).where(Notification.post_id == post.id))
    )
    made = 0
    for member_id, kind in targets.items():
        if member_id == post.author_id or member_id in already:
            continue
        session.add(
            Notification(member_id=member_id, kind=kind, post_id=post.id, actor_id=post.author_id)
        )
        made += 1
    return made


def notify_members(session: Session, kind: str, data_by_member: dict[int, dict[str, Any]]) -> int:
    """One notification of ``kind`` (no post) for each member, with what it points at."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    session.add_all(
        Notification(member_id=member_id, kind=kind, post_id=None, data=data)
        for member_id, data in data_by_member.items()
    )
    return len(data_by_member)


def notify_reviewers(
    session: Session, assignment: str, reviewers: Sequence[int], due_at: datetime | None
) -> int:
    """Tell each reviewer how many reviews were just assigned to them, and by when."""
    counts: dict[int, int] = {}
    for reviewer in reviewers:
        counts[reviewer] = counts.get(reviewer, 0) + 1
    due = due_at.isoformat() if due_at else None
    return notify_members(
        session,
        "review_assigned",
        {r: {"assignment": assignment, "count": n, "due_at": due} for r, n in counts.items()},
    )


def _member_only(actor: Actor) -> int:
    if actor.member_id is None:
        raise Forbidden("only members have notifications")
    return actor.member_id


def section_link(cohort: Cohort, key: str | None) -> dict[str, Any] | None:
    """Where ``key`` (a discussion anchor, or ``peer_review:<assignment>``) is in the course:
    its notebook (relative to the learner's home) and the cell to scroll to, as ``course
    sync`` recorded them from course.toml; None when the course does not say."""
    if not key:
        return None
    known = (cohort.settings or {}).get("sections", {}).get(key)
    if not known:
        return None
    out = {"key": key, "notebook": known["notebook"], "title": known.get("title", "")}
    out["cell"] = known.get("cell")
    out["path"] = known["notebook"] + (f"#cell-id={known['cell']}" if known.get("cell") else "")
    return out


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _EXCERPT else flat[: _EXCERPT - 1] + "…"


def _headline(kind: str, by: str | None, data: dict[str, Any], where: str) -> str:
    """The one line that says what happened."""
    who = by or "Someone"
    assignment = data.get("assignment", "")
    if kind == "reply":
        return f"{who} replied to your post{where}"
    if kind == "mention":
        return f"{who} mentioned you{where}"
    if kind == "review_assigned":
        count = int(data.get("count", 1))
        due = f", due {data['due_at'][:16].replace('T', ' ')} UTC" if data.get("due_at") else ""
        return f"{count} review{'s' if count != 1 else ''} to write for {assignment}{due}"
    if kind == "review_received":
        return f"The reviews of your {assignment} are ready"
    if kind == "review":
        return f"Reminder: reviews are waiting for you{f' in {assignment}' if assignment else ''}"
    if kind == "onboarding":
        return str(data.get("title") or "Your next onboarding step")
    if kind == "welcome":
        return f"{who} welcomed you to the cohort{where}"
    if kind == "idea_escalated":
        return f"An idea reached {data.get('endorsements', '')} endorsements{where}: decide on it"
    if kind == "idea_declined":
        return f"{who} declined your idea{where}: {data.get('reason', '')}"
    if kind == "idea_piloted":
        return f"Your idea{where} is now a pilot: {data.get('title', '')}"
    if kind == "pilot_owner":
        return f"{who} made you the owner of the pilot {data.get('title', '')}"
    if kind == "moderation":
        said = f": {data['reason']}" if data.get("reason") else ""
        what = f"{data.get('decision', 'decided on')} your {data.get('what', 'post')}"
        return f"{who} {what}{where}{said}"
    if kind == "reviews_orphaned":
        reasons = data.get("reasons") or {}
        rounds = ", ".join(
            f"{a} ({reasons[a]})" if reasons.get(a) else str(a) for a in data.get("assignments", [])
        )
        return (
            f"A member left owing {data.get('count', 0)} reviews that could not move to the "
            f"backup pool, in {rounds}: move them with "
            f"'nbcohort review reassign ASSIGNMENT --due ...'"
        )
    if kind == "pilot_orphaned":
        return (
            f"The owner of the pilot {data.get('title', '')} left the cohort: post its updates "
            "or stop it with 'nbcohort pilots update'"
        )
    if kind == "nudges":
        return f"{data.get('count', 0)} threads where a leader's reply would help this week"
    return kind.replace("_", " ").capitalize()


def _prompt_reach(
    session: Session, actor: Actor, post: Post | None, thread: Thread | None
) -> tuple[bool, bool]:
    """Whether ``post`` is in a micro-prompt not yet open for ``actor`` (nothing of it may
    show: the thread's title is the prompt's text), and whether it is an answer they may not
    read yet (answer the prompt first: its text shows, the answer does not). The decision is
    ``reach_post``'s, so a notification shows no more than the prompt's own route."""
    if post is None or thread is None or thread.kind != "prompt":
        return False, False
    try:
        reach_post(session, actor, post.id, "read")
    except NotFound:
        return True, False
    except ServiceError:
        return False, True
    return False, False


def describe(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    rows: Sequence[tuple[Notification, Post | None, Thread | None, str | None]],
) -> list[dict[str, Any]]:
    """Each notification as the notebook and email show it: the fields the API always had
    (id, kind, post_id, anchor, by, created_at, read) plus a headline, an excerpt the member
    may read, the notification's data, and a link to the notebook and cell."""
    out = []
    for note, post, thread, by in rows:
        data = {**_DATA_KEYS.get(note.kind, {}), **(note.data or {})}
        unopened, closed = _prompt_reach(session, actor, post, thread)
        anchor = thread.anchor if thread is not None else data.get("anchor")
        if unopened:  # the prompt's key may say what it asks
            anchor = None
        key = anchor
        if note.kind.startswith("review") and data.get("assignment"):
            key = f"peer_review:{data['assignment']}"
        elif note.kind == "onboarding" and data.get("link"):
            key = str(data["link"])
        link = section_link(cohort, key)
        if (
            link is None
            and note.kind == "onboarding"
            and str(data.get("link", "")).startswith(("http://", "https://"))
        ):
            link = {"key": None, "url": data["link"], "title": data.get("title", "")}
        where = f" in “{link['title']}”" if link and link.get("title") else ""
        if unopened:
            where = " in a micro-prompt"
        elif not where and thread is not None:
            where = f" in {thread.title or thread.anchor}"
        excerpt = ""
        if post is not None and not post.deleted and not post.hidden:
            excerpt = "" if unopened or closed else _excerpt(post.body_md)
        elif note.kind == "onboarding":
            excerpt = _excerpt(str(data.get("text", "")))
        out.append(
            {
                "id": note.id,
                "kind": note.kind,
                "post_id": note.post_id,
                "anchor": anchor,
                "by": by,
                "created_at": note.created_at.isoformat(),
                "read": note.read_at is not None,
                "headline": _headline(note.kind, by, data, where),
                "excerpt": excerpt,
                "data": data,
                "link": link,
            }
        )
    return out


def _rows(session: Session, where: Iterable[Any], limit: int) -> list[Any]:
    query = (
        select(Notification, Post, Thread, Member.name)
        .outerjoin(Post, Notification.post_id == Post.id)  # a review notice has no post
        .outerjoin(Thread, Post.thread_id == Thread.id)
        .outerjoin(Member, Notification.actor_id == Member.id)
        .where(*where)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return [tuple(row) for row in session.execute(query)]


def list_notifications(
    session: Session,
    actor: Actor,
    cohort: Cohort | None = None,
    *,
    unread_only: bool = True,
    limit: int = 50,
    kind: str | None = None,
) -> list[dict[str, Any]]:
    """The actor's own notifications, newest first, described (``describe``)."""
    member_id = _member_only(actor)
    where: list[Any] = [Notification.member_id == member_id]
    if unread_only:
        where.append(Notification.read_at.is_(None))
    if kind:
        where.append(Notification.kind == kind)
    rows = _rows(session, where, limit)
    if cohort is None:
        cohort = session.get_one(Cohort, actor.cohort_id)
    return describe(session, actor, cohort, rows)


def unread_counts(session: Session, actor: Actor) -> dict[str, int]:
    """How many unread notifications the actor has, by kind (one indexed count)."""
    member_id = _member_only(actor)
    rows = session.execute(
        select(Notification.kind, func.count())
        .where(Notification.member_id == member_id, Notification.read_at.is_(None))
        .group_by(Notification.kind)
    )
    return {kind: int(n) for kind, n in rows}


def today_items(
    session: Session, actor: Actor, cohort: Cohort, now: datetime | None = None
) -> list[dict[str, Any]]:
    """What a routine or the day's micro-prompt asks today: the cohort's cadence items of
    those kinds published today, in the cohort's time zone (nothing before the cadence runs)."""
    _member_only(actor)
    now = now or utcnow()
    try:
        zone = ZoneInfo(cohort.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    start = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    items = session.scalars(
        select(CadenceItem)
        .where(
            CadenceItem.cohort_id == cohort.id,
            CadenceItem.kind.in_(("routine", "prompt")),
            CadenceItem.state == "published",
            CadenceItem.due_at >= start,
            CadenceItem.due_at < start + timedelta(days=1),
        )
        .order_by(CadenceItem.due_at)
        .limit(10)
    )
    out = []
    for item in items:
        payload = item.payload or {}
        text = payload.get("text") or payload.get("prompt") or ""
        anchor = payload.get("anchor") or (item.result or {}).get("anchor")
        out.append(
            {
                "kind": item.kind,
                "title": item.title,
                "text": _excerpt(str(text)),
                "due_at": item.due_at.isoformat(),
                "anchor": anchor,
                "link": section_link(cohort, anchor),
            }
        )
    return out


def mark_read(session: Session, actor: Actor, ids: Sequence[int]) -> int:
    """Mark the actor's own notifications ``ids`` read (others' ids change nothing)."""
    member_id = _member_only(actor)
    if not ids:
        return 0
    result = session.execute(
        update(Notification)
        .where(
            Notification.member_id == member_id,
            Notification.id.in_(list(ids)),
            Notification.read_at.is_(None),
        )
        .values(read_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def mark_all_read(session: Session, actor: Actor) -> int:
    member_id = _member_only(actor)
    result = session.execute(
        update(Notification)
        .where(Notification.member_id == member_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
