"""What is due to be emailed, queued into the outbox: each notification a member with
``email_pref = all`` has not read after a short delay, and one digest of what a member missed
once they have been away long enough (never more than one per interval, none when nothing
happened). Both are safe from cron every minute and twice at once: each message has a
dedupe key the database keeps unique, so a second run queues nothing twice.

The work is read in one snapshot, rendered outside any write, and inserted in chunks, so a
run for 10,000 members holds the database's write lock only for the inserts.
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import String, cast, exists, func, literal, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.mail.mailer import Mailer
from nbcohort.cohorts.mail.outbox import insert_messages, message_id
from nbcohort.cohorts.mail.render import PREF_LABELS, TemplateProblem, render
from nbcohort.cohorts.models import (
    CadenceItem,
    Cohort,
    Member,
    Notification,
    OutboxMessage,
    Post,
    Thread,
    utcnow,
)
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.notifications import describe, section_link
from nbcohort.cohorts.store import Store

__all__ = ["DigestReport", "queue_digests", "queue_message", "queue_notifications"]

log = logging.getLogger("nbcohort.mail")
_CHUNK = 500
_LISTED = 5  # notifications and threads a digest lists by name
_WHO = (
    Member.id,
    Member.cohort_id,
    Member.name,
    Member.username,
    Member.email,
    Member.email_pref,
    Member.role,
    Member.timezone,
    Member.last_seen_at,
    Member.joined_at,
)


@dataclass
class DigestReport:
    away: int = 0  # members away long enough, with email, who want a digest
    recent: int = 0  # of those, sent a digest within the interval
    empty: int = 0  # of those, nothing happened since
    queued: int = 0

    def summary(self) -> str:
        return (
            f"{self.queued} digests queued ({self.away} members away, {self.recent} had one "
            f"within the interval, {self.empty} missed nothing)"
        )


def _actor(m: Any) -> Actor:
    return Actor(m.id, m.cohort_id, m.role, m.name, m.username, "", m.timezone)


def _context(mailer: Mailer, m: Any, cohort: Cohort, **extra: Any) -> dict[str, Any]:
    return {
        "member": {"name": m.name, "username": m.username},
        "cohort": {"title": cohort.title},
        "unsubscribe_url": mailer.unsubscribe_url(m.id),
        "pref_label": PREF_LABELS.get(m.email_pref, m.email_pref),
        **extra,
    }


def _row(mailer: Mailer, m: Any, kind: str, key: str, ctx: dict[str, Any]) -> dict[str, Any]:
    rendered = render(kind, ctx)
    return {
        "cohort_id": m.cohort_id,
        "member_id": m.id,
        "kind": kind,
        "dedupe_key": key,
        "message_id": message_id(mailer.settings.from_address),
        "to_addr": m.email,
        "subject": rendered.subject,
        "body_text": rendered.text,
        "body_html": rendered.html,
    }


def queue_message(
    session: Session,
    mailer: Mailer,
    member: Member,
    kind: str,
    dedupe_key: str,
    **context: Any,
) -> bool:
    """Queue one message of ``kind`` (templates ``<kind>.txt`` and ``<kind>.html``) for
    ``member`` in the caller's transaction, with ``member``, ``cohort``, ``unsubscribe_url``
    and ``pref_label`` added to ``context``. Nothing for a member without an address, who
    left, or whose email_pref excludes ``kind`` (``digest`` takes digests and highlights
    only). False when nothing was queued, also when ``dedupe_key`` was queued before."""
    from nbcohort.cohorts.mail.sender import DIGEST_KINDS

    if member.email is None or not member.active or member.email_pref == "none":
        return False
    if member.email_pref == "digest" and kind not in DIGEST_KINDS:
        return False
    cohort = session.get_one(Cohort, member.cohort_id)
    row = _row(mailer, member, kind, dedupe_key, _context(mailer, member, cohort, **context))
    return insert_messages(session, [row]) == 1


def _insert(store: Store, rows: Sequence[dict[str, Any]]) -> int:
    queued = 0
    for start in range(0, len(rows), _CHUNK):
        with store.write() as s:
            queued += insert_messages(s, rows[start : start + _CHUNK])
    return queued


def _cohorts(session: Session, ids: set[int]) -> dict[int, Cohort]:
    return {c.id: c for c in session.scalars(select(Cohort).where(Cohort.id.in_(ids)))}


def queue_notifications(store: Store, mailer: Mailer, now: datetime | None = None) -> int:
    """Queue one email per unread notification of members who want every notification,
    once it is ``notify_delay_minutes`` old (and at most ``notify_window_hours``)."""
    now = now or utcnow()
    settings = mailer.settings
    key = literal("notification:") + cast(Notification.id, String)
    by = Member.__table__.alias("by")  # who acted, apart from the recipient
    query = (
        select(Notification, Post, Thread, by.c.name.label("by_name"), *_WHO)
        .join(Member, Member.id == Notification.member_id)
        .outerjoin(Post, Notification.post_id == Post.id)
        .outerjoin(Thread, Post.thread_id == Thread.id)
        .outerjoin(by, by.c.id == Notification.actor_id)
        .where(
            Notification.read_at.is_(None),
            Notification.created_at <= now - timedelta(minutes=settings.notify_delay_minutes),
            Notification.created_at >= now - timedelta(hours=settings.notify_window_hours),
            Member.active.is_(True),
            Member.email.is_not(None),
            Member.email_pref == "all",
            ~exists().where(OutboxMessage.dedupe_key == key),
        )
        .order_by(Notification.id)
    )
    rows: list[dict[str, Any]] = []
    with store.read() as s:
        found = s.execute(query).all()
        cohorts = _cohorts(s, {r.cohort_id for r in found})
        for r in found:
            cohort = cohorts[r.cohort_id]
            note = describe(s, _actor(r), cohort, [(r[0], r[1], r[2], r[3])])[0]
            note["url"] = mailer.notebook_url(note["link"])
            ctx = _context(mailer, r, cohort, n=note)
            try:
                rows.append(_row(mailer, r, note["kind"], f"notification:{note['id']}", ctx))
            except TemplateProblem as exc:  # one message, not the whole run (it is logged)
                log.error("notification %s not emailed: %s", note["id"], exc)
    return _insert(store, rows)


def _local(when: datetime, zone: str) -> str:
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return when.astimezone(tz).strftime("%A %d %B, %H:%M")


class _CohortNews:
    """What happened in one cohort since a moment: posts, busiest threads, rhythm items.

    Micro-prompt threads are left out, as highlights and the activity page leave them out:
    a prompt thread's title is the prompt's text, which staff may answer before it opens,
    and its answers are for those who answered (``visibility.py``). The news is one list for
    the whole cohort, so it holds only what every member may read; prompts reach members
    through the rhythm's items once they open."""

    def __init__(self, s: Session, cohort: Cohort, earliest: datetime, interval_start: datetime):
        self.cohort = cohort
        posts = s.execute(
            select(Post.created_at, Post.author_id, Post.thread_id)
            .join(Thread, Post.thread_id == Thread.id)
            .where(
                Thread.cohort_id == cohort.id,
                Thread.kind != "prompt",
                Post.created_at > earliest,
                Post.deleted.is_(False),
                Post.hidden.is_(False),
            )
            .order_by(Post.created_at)
        ).all()
        self.times = [p.created_at for p in posts]
        self.by_author: dict[int, list[datetime]] = defaultdict(list)
        for p in posts:
            self.by_author[p.author_id].append(p.created_at)
        recent = Counter(p.thread_id for p in posts if p.created_at > interval_start)
        last = {p.thread_id: p.created_at for p in posts}
        top = [tid for tid, _n in recent.most_common(_LISTED)]
        about: dict[int, tuple[str, str]] = {
            t.id: (t.title or t.anchor, t.anchor)
            for t in s.execute(
                select(Thread.id, Thread.title, Thread.anchor).where(Thread.id.in_(top))
            )
        }
        self.threads: list[tuple[datetime, dict[str, Any]]] = [
            (
                last[tid],
                {"title": about[tid][0], "posts": recent[tid], "anchor": about[tid][1]},
            )
            for tid in top
            if tid in about
        ]
        self.items = s.execute(
            select(CadenceItem.published_at, CadenceItem.title, CadenceItem.payload)
            .where(
                CadenceItem.cohort_id == cohort.id,
                CadenceItem.state == "published",
                CadenceItem.published_at > earliest,
            )
            .order_by(CadenceItem.published_at)
        ).all()

    def new_posts(self, since: datetime, member_id: int) -> int:
        own = self.by_author.get(member_id, [])
        return (len(self.times) - bisect.bisect_right(self.times, since)) - (
            len(own) - bisect.bisect_right(own, since)
        )


def queue_digests(store: Store, mailer: Mailer, now: datetime | None = None) -> DigestReport:
    """Queue a digest for each member away ``digest_idle_hours`` who has had none for
    ``digest_interval_hours`` and missed something since their last visit or digest."""
    now = now or utcnow()
    settings, report = mailer.settings, DigestReport()
    idle_since = now - timedelta(hours=settings.digest_idle_hours)
    interval_start = now - timedelta(hours=settings.digest_interval_hours)
    rows: list[dict[str, Any]] = []
    with store.read(snapshot=True) as s:
        away = s.execute(
            select(*_WHO).where(
                Member.active.is_(True),
                Member.email.is_not(None),
                Member.email_pref.in_(("all", "digest")),
                func.coalesce(Member.last_seen_at, Member.joined_at) <= idle_since,
            )
        ).all()
        report.away = len(away)
        if not away:
            return report
        last = {
            r.member_id: (r.at, r.n)
            for r in s.execute(
                select(
                    OutboxMessage.member_id,
                    func.max(OutboxMessage.created_at).label("at"),
                    func.count().label("n"),
                )
                .where(OutboxMessage.kind == "digest", OutboxMessage.member_id.is_not(None))
                .group_by(OutboxMessage.member_id)
            )
        }
        due = []
        for m in away:
            previous = last.get(m.id)
            if previous is not None and previous[0] > interval_start:
                report.recent += 1
                continue
            seen = m.last_seen_at or m.joined_at
            since = max(seen, previous[0]) if previous else seen
            due.append((m, since, previous[1] if previous else 0))
        cohorts = _cohorts(s, {m.cohort_id for m, _s, _n in due})
        news: dict[int, _CohortNews] = {}
        for cid, cohort in cohorts.items():
            earliest = min(since for m, since, _n in due if m.cohort_id == cid)
            news[cid] = _CohortNews(s, cohort, earliest, interval_start)
        unread = _unread(s, [(m, since) for m, since, _n in due])
        for m, since, count in due:
            cohort_news = news[m.cohort_id]
            mine = [n for n in unread.get(m.id, []) if n[0].created_at > since]
            new_posts = cohort_news.new_posts(since, m.id)
            items = [
                {"title": title, "text": str((payload or {}).get("text", ""))[:200]}
                for at, title, payload in cohort_news.items
                if at and at > since
            ]
            if not (mine or new_posts or items):
                report.empty += 1
                continue
            notes = describe(s, _actor(m), cohort_news.cohort, mine[:_LISTED])
            for note in notes:
                note["url"] = mailer.notebook_url(note["link"])
            threads = []
            for last_at, thread in cohort_news.threads:
                if last_at > since:
                    link = section_link(cohort_news.cohort, thread["anchor"])
                    threads.append({**thread, "url": mailer.notebook_url(link)})
            ctx = _context(
                mailer,
                m,
                cohort_news.cohort,
                since=_local(since, m.timezone),
                notifications=notes,
                more_notifications=max(0, len(mine) - _LISTED),
                new_posts=new_posts,
                threads=threads,
                items=items,
            )
            # The key counts the member's digests: two runs at once make the same key.
            try:
                rows.append(_row(mailer, m, "digest", f"digest:{m.id}:{count + 1}", ctx))
            except TemplateProblem as exc:  # one member's digest, not the whole run
                log.error("digest for member %s not queued: %s", m.id, exc)
    report.queued = _insert(store, rows)
    return report


def _unread(s: Session, due: list[tuple[Any, datetime]]) -> dict[int, list[Any]]:
    """Each member's unread notifications since the earliest moment any of them missed."""
    out: dict[int, list[Any]] = defaultdict(list)
    if not due:
        return out
    earliest = min(since for _m, since in due)
    ids = [m.id for m, _since in due]
    by = Member.__table__.alias("by")
    for start in range(0, len(ids), 1000):
        rows = s.execute(
            select(Notification, Post, Thread, by.c.name)
            .outerjoin(Post, Notification.post_id == Post.id)
            .outerjoin(Thread, Post.thread_id == Thread.id)
            .outerjoin(by, by.c.id == Notification.actor_id)
            .where(
                Notification.member_id.in_(ids[start : start + 1000]),
                Notification.read_at.is_(None),
                Notification.created_at > earliest,
            )
            .order_by(Notification.id.desc())
        ).all()
        for row in rows:
            out[row[0].member_id].append(tuple(row))
    return out
