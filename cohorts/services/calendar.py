"""The cohort's events: clinics (with sign-ups), routines (weekly), and deadlines (nbgrader
assignments, peer-review rounds); listed for a member in their own time zone, and written as
RFC 5545 calendars (``icalendar``) that Google Calendar, Outlook and Thunderbird import:
routines as RRULEs, times in the cohort's zone with its VTIMEZONE."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import icalendar
from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts import __version__
from nbcohort.cohorts.local_time import at_local, in_zone, local_label
from nbcohort.cohorts.models import Cohort, Event, EventSignup, Member, ReviewRound, utcnow
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Forbidden, NotFound
from nbcohort.cohorts.services.unique import insert_if_absent

__all__ = [
    "CalendarEntry",
    "cohort_entries",
    "ics_calendar",
    "set_signup",
    "upcoming_events",
]

_SIGNUP = cast(Table, EventSignup.__table__)
_UNTIL = re.compile(r"UNTIL=(\d{8}T\d{6}Z)")


@dataclass(frozen=True)
class CalendarEntry:
    uid: str
    kind: str  # clinic | routine | deadline | ...
    title: str
    starts_at: datetime
    ends_at: datetime | None = None
    description: str = ""
    location: str = ""
    rrule: str = ""
    event_id: int | None = None
    anchor: str | None = None


def cohort_entries(session: Session, cohort: Cohort) -> list[CalendarEntry]:
    """Every event of the cohort: its Event rows and its peer-review rounds' due dates."""
    host = f"{cohort.slug}.nbcohort"
    out = [
        CalendarEntry(
            uid=f"{e.key or f'event-{e.id}'}@{host}".replace(":", "-"),
            kind=e.kind,
            title=e.title,
            starts_at=e.starts_at,
            ends_at=e.ends_at,
            description=e.description,
            location=e.location,
            rrule=e.rrule,
            event_id=e.id,
            anchor=e.anchor,
        )
        for e in session.scalars(
            select(Event).where(Event.cohort_id == cohort.id).order_by(Event.starts_at, Event.id)
        )
    ]
    for r in session.scalars(
        select(ReviewRound).where(
            ReviewRound.cohort_id == cohort.id, ReviewRound.due_at.is_not(None)
        )
    ):
        assert r.due_at is not None
        out.append(
            CalendarEntry(
                uid=f"review-{r.assignment}@{host}",
                kind="deadline",
                title=f"Peer reviews of {r.assignment} due",
                starts_at=r.due_at,
                description=f"Submit your reviews of {r.assignment} before this time.",
            )
        )
    return out


def _next(entry: CalendarEntry, zone: Any, after: datetime) -> datetime | None:
    """The next occurrence of a weekly entry at or after ``after`` (its wall time kept)."""
    first = entry.starts_at.astimezone(zone)
    day = max(first.date(), after.astimezone(zone).date())
    day += timedelta(days=(first.weekday() - day.weekday()) % 7)
    at = at_local(day, first.time(), zone)
    if at < after:
        at = at_local(day + timedelta(days=7), first.time(), zone)
    until = _UNTIL.search(entry.rrule)
    if until and at > datetime.strptime(until.group(1) + "+0000", "%Y%m%dT%H%M%SZ%z"):
        return None
    return at


def upcoming_events(
    session: Session, actor: Actor, cohort: Cohort, days: int = 60
) -> list[dict[str, Any]]:
    """What happens in the next ``days``, soonest first, with times in the actor's zone and
    whether they signed up."""
    require(actor, "cohort.read", cohort.id)
    now = utcnow()
    end = now + timedelta(days=days)
    cohort_zone, mine = in_zone(cohort.timezone), in_zone(actor.timezone)
    signed = set()
    if actor.member_id is not None:
        signed = set(
            session.scalars(
                select(EventSignup.event_id).where(EventSignup.member_id == actor.member_id)
            )
        )
    counts = dict(
        session.execute(
            select(EventSignup.event_id, func.count())
            .join(Event, EventSignup.event_id == Event.id)
            .where(Event.cohort_id == cohort.id)
            .group_by(EventSignup.event_id)
        ).all()
    )
    out = []
    for entry in cohort_entries(session, cohort):
        starts: datetime | None = entry.starts_at
        if entry.rrule:
            starts = _next(entry, cohort_zone, now)
        last = entry.ends_at or entry.starts_at
        if starts is None or starts > end or (not entry.rrule and last < now):
            continue
        length = (entry.ends_at - entry.starts_at) if entry.ends_at else None
        out.append(
            {
                "id": entry.event_id,
                "kind": entry.kind,
                "title": entry.title,
                "starts_at": starts.isoformat(),
                "ends_at": (starts + length).isoformat() if length else None,
                "local": local_label(starts, mine),
                "weekly": bool(entry.rrule),
                "description": entry.description,
                "location": entry.location,
                "anchor": entry.anchor,
                "signed_up": entry.event_id in signed,
                "signups": counts.get(entry.event_id or 0, 0) if entry.kind == "clinic" else None,
            }
        )
    out.sort(key=lambda e: str(e["starts_at"]))
    return out


def set_signup(
    session: Session, actor: Actor, cohort: Cohort, event_id: int, join: bool
) -> dict[str, Any]:
    """Sign the actor up for a clinic (or take the sign-up back); again is a no-op."""
    require(actor, "event.signup", cohort.id)
    if actor.member_id is None:
        raise Forbidden("only members sign up")
    event = session.get(Event, event_id)
    if event is None or event.cohort_id != cohort.id:
        raise NotFound(f"no event {event_id}", field="event_id")
    if event.kind != "clinic":
        raise Forbidden(f"a {event.kind} takes no sign-ups")
    if join:
        if (event.ends_at or event.starts_at) < utcnow():
            raise Forbidden("this clinic is over")
        insert_if_absent(
            session,
            _SIGNUP,
            {"event_id": event.id, "member_id": actor.member_id, "created_at": utcnow()},
        )
    else:
        session.execute(
            delete(EventSignup).where(
                EventSignup.event_id == event.id, EventSignup.member_id == actor.member_id
            )
        )
    count = session.scalar(
        select(func.count()).select_from(EventSignup).where(EventSignup.event_id == event.id)
    )
    return {"event_id": event.id, "signed_up": join, "signups": count or 0}


def ics_calendar(
    session: Session, cohort: Cohort, member: Member | None = None, now: datetime | None = None
) -> bytes:
    """The cohort's calendar as an .ics file; for ``member``, with their sign-ups marked."""
    now = now or utcnow()
    zone = in_zone(cohort.timezone)
    cal = icalendar.Calendar()
    cal.add("prodid", f"-//nbcohort//nbcohort {__version__}//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    # icalendar escapes the standard text properties, not this one: given as text, it is.
    cal.add("x-wr-calname", icalendar.vText(" ".join(cohort.title.split())))
    cal.add("x-wr-timezone", cohort.timezone)
    signed: set[int] = set()
    if member is not None:
        signed = set(
            session.scalars(select(EventSignup.event_id).where(EventSignup.member_id == member.id))
        )
    for entry in cohort_entries(session, cohort):
        event = icalendar.Event()
        event.add("uid", entry.uid)
        event.add("dtstamp", now)
        event.add("dtstart", entry.starts_at.astimezone(zone))
        if entry.ends_at is not None:
            event.add("dtend", entry.ends_at.astimezone(zone))
        event.add("summary", entry.title)
        description = entry.description
        if entry.event_id in signed:
            description = f"{description}\nYou signed up.".strip()
        if description:
            event.add("description", description)
        if entry.location:
            event.add("location", entry.location)
        event.add("categories", [entry.kind])
        if entry.rrule:
            event.add("rrule", icalendar.vRecur.from_ical(entry.rrule))
        cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()
