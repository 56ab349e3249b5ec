"""``nbcohort cohort apply``: a cohort made or brought up to date from its cohort file, with
its course content, calendar entries and cadence plan (``rhythm.py`` reads it back).
Applying the same file again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, or_, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.cohort_file import CohortFile
from nbcohort.cohorts.course import CourseSpec
from nbcohort.cohorts.local_time import WEEKDAYS, at_local, in_zone
from nbcohort.cohorts.models import Cohort, Event, EventSignup, Member, Prompt, utcnow
from nbcohort.cohorts.prompt_library import community_prompts
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cadence_plan import PlanChange, plan_items, sync_plan
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.course_content import sync_course
from nbcohort.cohorts.services.errors import Conflict, Forbidden
from nbcohort.cohorts.services.rhythm import (
    community_rhythm,
    course_prompt_order,
    course_until,
    plan_window,
)
from nbcohort.cohorts.services.unique import insert_if_absent

__all__ = ["ApplyReport", "apply_cohort_file", "routine_events"]

_EVENT = cast(Table, Event.__table__)
_BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass
class ApplyReport:
    created: bool
    changed: list[str] = field(default_factory=list)
    course: str = ""
    plan: PlanChange = field(default_factory=PlanChange)
    events: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self, slug: str) -> str:
        verb = "created" if self.created else "updated"
        what = ", ".join(self.changed) if self.changed else "nothing changed"
        lines = [f"cohort {slug!r} {verb} ({what})"]
        if self.course:
            lines.append(f"course: {self.course}")
        lines.append(f"cadence: {self.plan}; calendar: {self.events} events added or changed")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


def apply_cohort_file(
    session: Session,
    actor: Actor,
    spec: CohortFile,
    sha256: str,
    *,
    source: str = "",
    course: CourseSpec | None = None,
    deadlines: dict[str, datetime] | None = None,
    horizon_days: int = 35,
) -> tuple[Cohort, ApplyReport]:
    """Create or update the cohort ``spec`` defines, with its course content, calendar and
    cadence plan (local administrators only). Idempotent."""
    if not actor.is_system:
        raise Forbidden("only the local administrator applies a cohort file")
    c = spec.cohort
    cohort = session.scalar(select(Cohort).where(Cohort.slug == c.slug))
    report = ApplyReport(created=cohort is None)
    if cohort is None:
        cohort = create_cohort(
            session,
            actor,
            c.slug,
            c.title,
            course=c.course,
            starts_on=c.starts_on,
            ends_on=c.ends_on,
            timezone=c.timezone,
        )
    else:
        wanted = {
            "title": c.title,
            "course": c.course,
            "starts_on": c.starts_on,
            "ends_on": c.ends_on,
            "timezone": c.timezone,
        }
        for name, value in wanted.items():
            if getattr(cohort, name) != value:
                setattr(cohort, name, value)
                report.changed.append(name)
    rhythm = _rhythm(cohort, spec)
    if course is not None:
        report.course = sync_course(session, actor, cohort, course)
    order = list(course.prompts) if course is not None else course_prompt_order(cohort)
    settings = dict(cohort.settings or {})
    if rhythm is not spec:  # graduated: the community's cadence; the course's is kept
        settings["course_cadence"] = spec.cadence.model_dump(mode="json")
    new = {
        "rhythm": rhythm.model_dump(mode="json"),
        "rhythm_prompts": order,
        "digest": spec.cadence.digest.model_dump(mode="json"),
        "notifications": spec.notifications.model_dump(mode="json"),
        "facilitators": list(c.facilitators),
    }
    if any(settings.get(k) != v for k, v in new.items()):
        report.changed.append("rhythm")
    settings.update(new)
    settings["cohort_file"] = {"source": source, "sha256": sha256}
    if settings != cohort.settings:
        cohort.settings = settings
    session.flush()
    now = utcnow()
    if rhythm.cadence.prompts.enabled:
        _prompts_wait_for_the_cadence(session, cohort, order, now)
    routines = spec
    if cohort.graduated_at is not None:  # the course's routines ended on graduation day
        routines = course_until(spec, cohort.graduated_at.astimezone(in_zone(c.timezone)).date())
    report.events = routine_events(session, cohort, routines) + _deadline_events(
        session, cohort, deadlines or {}
    )
    start, end = plan_window(rhythm, now, horizon_days)
    items = plan_items(rhythm, order, community_prompts(), start, end)
    report.plan = sync_plan(session, cohort, items, prune_after=now)
    report.notes = _notes(session, cohort, spec)
    if report.created or report.changed or report.plan.added or report.plan.updated:
        record(session, cohort.id, None, "cohort.apply", cohort, sha256=sha256, source=source)
    return cohort, report


def _rhythm(cohort: Cohort, spec: CohortFile) -> CohortFile:
    """The file as the rhythm reads it: after graduation, with the community's cadence (a
    graduated cohort's file must keep naming its community)."""
    if cohort.graduated_at is None:
        return spec
    if spec.community is None or spec.community.name != cohort.community:
        named = repr(spec.community.name) if spec.community else "no community"
        raise Conflict(
            f"cohort {cohort.slug!r} graduated into the community {cohort.community!r}; this "
            f"cohort file names {named}: keep [community] name = {cohort.community!r}",
            field="community",
        )
    return community_rhythm(spec)


def _prompts_wait_for_the_cadence(
    session: Session, cohort: Cohort, order: list[str], now: datetime
) -> None:
    """The course's prompts that have not opened yet open when the cadence publishes them
    (course.toml's day-N rule opened them at midnight UTC, weekends included)."""
    if not order:
        return
    for prompt in session.scalars(
        select(Prompt).where(Prompt.cohort_id == cohort.id, Prompt.key.in_(order))
    ):
        if prompt.opens_at is not None and prompt.opens_at > now:
            prompt.opens_at = None


def routine_events(session: Session, cohort: Cohort, spec: CohortFile) -> int:
    """One recurring calendar entry per routine of the course (RRULE weekly on its day,
    until the cadence's ``until``)."""
    zone = in_zone(spec.cohort.timezone)
    changed = 0
    keys = []
    for r in spec.cadence.routines:
        first = spec.cohort.starts_on
        first += timedelta(days=(WEEKDAYS.index(r.day) - first.weekday()) % 7)
        starts = at_local(first, r.time, zone)
        rule = f"FREQ=WEEKLY;BYDAY={_BYDAY[WEEKDAYS.index(r.day)]}"
        if spec.cadence.until is not None:
            last = at_local(spec.cadence.until, datetime.max.time(), zone).astimezone(UTC)
            rule += f";UNTIL={last:%Y%m%dT%H%M%SZ}"
        host = f", hosted by {r.host}" if r.host else ""
        values = {
            "title": r.title,
            "starts_at": starts,
            "ends_at": starts + timedelta(minutes=r.minutes),
            "rrule": rule,
            "description": f"Every {r.day} in the thread topic/{r.key}{host}.",
            "location": "",
            "anchor": f"topic/{r.key}",
        }
        keys.append(f"routine:{r.key}")
        changed += _upsert_event(session, cohort, "routine", keys[-1], values)
    stale = select(Event.id).where(
        Event.cohort_id == cohort.id, Event.kind == "routine", Event.key.not_in(keys)
    )
    ids = list(session.scalars(stale))
    if ids:
        session.execute(delete(EventSignup).where(EventSignup.event_id.in_(ids)))
        session.execute(delete(Event).where(Event.id.in_(ids)))
        changed += len(ids)
    return changed


def _deadline_events(session: Session, cohort: Cohort, deadlines: dict[str, datetime]) -> int:
    """nbgrader's assignment due dates as calendar entries (``assignment:<name>``)."""
    changed = 0
    for name, due in sorted(deadlines.items()):
        values = {
            "title": f"{name} due",
            "starts_at": due,
            "ends_at": None,
            "rrule": "",
            "description": f"nbgrader assignment {name}: submit before this time.",
            "location": "",
            "anchor": None,
        }
        changed += _upsert_event(session, cohort, "deadline", f"assignment:{name}", values)
    return changed


def _upsert_event(
    session: Session, cohort: Cohort, kind: str, key: str, values: dict[str, Any]
) -> int:
    row = {"cohort_id": cohort.id, "kind": kind, "key": key, **values}
    if insert_if_absent(session, _EVENT, row):
        return 1
    event = session.scalar(select(Event).where(Event.cohort_id == cohort.id, Event.key == key))
    assert event is not None
    changed = 0
    for name, value in values.items():
        if getattr(event, name) != value:
            setattr(event, name, value)
            changed = 1
    return changed


def _notes(session: Session, cohort: Cohort, spec: CohortFile) -> list[str]:
    """What the file names that the roster does not have (yet): said, not refused."""
    wanted = {n.strip().lower() for n in spec.cohort.facilitators} | {
        r.host.strip().lower() for r in spec.cadence.routines if r.host
    }
    if not wanted:
        return []
    rows = session.execute(
        select(Member.username, Member.email).where(
            Member.cohort_id == cohort.id,
            Member.active.is_(True),
            or_(Member.username.in_(wanted), Member.email.in_(wanted)),
        )
    )
    known = {v.lower() for row in rows for v in row if v}
    return [
        f"{name!r} is not an active member yet: a facilitator posts for them until they are"
        for name in sorted(wanted - known)
    ]
