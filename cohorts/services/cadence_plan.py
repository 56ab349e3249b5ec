"""The cadence's plan: what the cohort's rhythm publishes and when, as CadenceItem rows.

``plan_items`` is a pure function of the cohort file: a micro-prompt each prompt day (the
course's prompts in order, then the kit's community prompts), each routine on its day, the
weekly highlights, and each month's clinic (published when its question thread opens, some
days before the clinic itself). ``sync_plan`` writes the items of a window into the store,
keyed (``prompt:2027-03-02``, ``routine:top-tip-tuesday:2027-03-02``, ``highlights:...``,
``clinic:2027-04``) so that planning again, or twice at once, adds nothing twice.
Published items are never changed or removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.cohort_file import CohortFile
from nbcohort.cohorts.local_time import at_local, in_zone, nth_weekday, weekday_number
from nbcohort.cohorts.models import CadenceItem, Cohort, Event, EventSignup
from nbcohort.cohorts.services.unique import insert_if_absent

__all__ = ["PlanChange", "PlannedItem", "plan_items", "planned_until", "sync_plan"]

_ITEM = cast(Table, CadenceItem.__table__)
_EVENT = cast(Table, Event.__table__)


@dataclass(frozen=True)
class PlannedItem:
    key: str
    kind: str  # prompt | routine | highlights | clinic
    title: str
    due_at: datetime
    payload: dict[str, Any]


@dataclass
class PlanChange:
    added: int = 0
    updated: int = 0
    removed: int = 0
    keys: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.added} planned, {self.updated} changed, {self.removed} removed"


def _days(first: date, last: date) -> Sequence[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def plan_items(
    spec: CohortFile,
    course_prompts: Sequence[str],
    library: Sequence[tuple[str, str]],
    start: datetime,
    end: datetime,
) -> list[PlannedItem]:
    """Every item due in [start, end), in due order."""
    zone = in_zone(spec.cohort.timezone)
    cadence = spec.cadence
    first = spec.cohort.starts_on
    last = (end + timedelta(days=1)).astimezone(zone).date()
    if cadence.until is not None:
        last = min(last, cadence.until)
    out: list[PlannedItem] = []
    prompt_days = {weekday_number(d) for d in cadence.prompts.days}
    routines = {weekday_number(r.day): [] for r in cadence.routines}  # type: ignore[var-annotated]
    for r in cadence.routines:
        routines[weekday_number(r.day)].append(r)
    highlights_day = weekday_number(cadence.highlights.day)
    index = 0  # the prompt days counted from the first day
    for day in _days(first, last) if last >= first else []:
        week = (day - first).days // 7 + 1
        if cadence.prompts.enabled and day.weekday() in prompt_days:
            item = _prompt_item(
                day,
                index,
                cadence.prompts.time,
                zone,
                course_prompts,
                library,
                cadence.prompts.library,
            )
            index += 1
            if item is not None:
                out.append(item)
        for r in routines.get(day.weekday(), []):
            out.append(
                PlannedItem(
                    f"routine:{r.key}:{day}",
                    "routine",
                    r.title,
                    at_local(day, r.time, zone),
                    {"routine": r.key, "anchor": f"topic/{r.key}", "date": str(day), "week": week},
                )
            )
        h = cadence.highlights
        if h.enabled and day.weekday() == highlights_day and day > first:
            due = at_local(day, h.time, zone)
            since = max(due - timedelta(days=7), at_local(first, time(0), zone))
            out.append(
                PlannedItem(
                    f"highlights:{day}",
                    "highlights",
                    "Weekly highlights",
                    due,
                    {"anchor": h.anchor, "top": h.top, "since": since.isoformat()},
                )
            )
    out.extend(_clinics(spec, first, last, zone))
    out.extend(_pulses(spec, first, last, zone))
    out = [item for item in out if start <= item.due_at < end]
    out.sort(key=lambda item: (item.due_at, item.key))
    return out


def _prompt_item(
    day: date,
    index: int,
    at: time,
    zone: Any,
    course: Sequence[str],
    library: Sequence[tuple[str, str]],
    use_library: bool,
) -> PlannedItem | None:
    due = at_local(day, at, zone)
    if index < len(course):
        key = course[index]
        return PlannedItem(
            f"prompt:{day}",
            "prompt",
            f"Micro-prompt {key}",
            due,
            {"prompt": key, "source": "course"},
        )
    if not use_library or not library:
        return None
    n = index - len(course)
    key, text = library[n % len(library)]
    round_ = n // len(library)
    if round_:
        key = f"{key}-r{round_ + 1}"  # the library again: a new prompt, its own thread
    return PlannedItem(
        f"prompt:{day}",
        "prompt",
        f"Micro-prompt {key}",
        due,
        {"prompt": key, "source": "library", "text": text},
    )


def _clinics(spec: CohortFile, first: date, last: date, zone: Any) -> list[PlannedItem]:
    clinic = spec.cadence.clinic
    if not clinic.enabled:
        return []
    out = []
    year, month = first.year, first.month
    while date(year, month, 1) <= last:
        day = nth_weekday(year, month, weekday_number(clinic.day), clinic.week)
        if first <= day <= last:
            starts = at_local(day, clinic.time, zone)
            opens = max(
                starts - timedelta(days=clinic.questions_days_before),
                at_local(first, time(0), zone),
            )
            label = f"{year:04d}-{month:02d}"
            out.append(
                PlannedItem(
                    f"clinic:{label}",
                    "clinic",
                    clinic.title,
                    opens,
                    {
                        "anchor": f"topic/clinic-{label}",
                        "starts_at": starts.isoformat(),
                        "ends_at": (starts + timedelta(minutes=clinic.minutes)).isoformat(),
                        "title": clinic.title,
                        "location": clinic.location,
                    },
                )
            )
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _pulses(spec: CohortFile, first: date, last: date, zone: Any) -> list[PlannedItem]:
    """A pulse survey every ``every_weeks`` weeks on its day, from the cohort's first week."""
    pulse = spec.cadence.pulse
    if not pulse.enabled:
        return []
    out = []
    day = first + timedelta(days=(weekday_number(pulse.day) - first.weekday()) % 7)
    while day <= last:
        opens = at_local(day, pulse.time, zone)
        out.append(
            PlannedItem(
                f"pulse:{day}",
                "pulse",
                pulse.title,
                opens,
                {
                    "closes_at": (opens + timedelta(days=pulse.open_days)).isoformat(),
                    "questions": list(pulse.questions),
                    "free_text": pulse.free_text,
                    "min_answers": pulse.min_answers,
                },
            )
        )
        day += timedelta(weeks=pulse.every_weeks)
    return out


def planned_until(session: Session, cohort_id: int) -> datetime | None:
    """When the last item already planned is due (the tick tops up the plan past it)."""
    return session.scalar(
        select(func.max(CadenceItem.due_at)).where(CadenceItem.cohort_id == cohort_id)
    )


def _kept(row: CadenceItem, payload: dict[str, Any]) -> dict[str, Any]:
    """The plan's new payload, keeping the host a champion volunteered (champion_actions)."""
    host = (row.payload or {}).get("host")
    return {**payload, "host": host} if host else payload


def sync_plan(
    session: Session,
    cohort: Cohort,
    items: Sequence[PlannedItem],
    *,
    prune_after: datetime | None = None,
) -> PlanChange:
    """Write ``items`` into the plan. New keys are added (safely when another tick adds
    them at the same moment); with ``prune_after`` (``cohort apply``), items still planned
    are brought up to date and those due after it that the file no longer asks for are
    removed. Published items are never touched."""
    change = PlanChange()
    keys = [item.key for item in items]
    existing = (
        {
            row.key: row
            for row in session.scalars(
                select(CadenceItem).where(
                    CadenceItem.cohort_id == cohort.id, CadenceItem.key.in_(keys)
                )
            )
        }
        if keys
        else {}
    )
    for item in items:
        row = existing.get(item.key)
        if row is None:
            values = {
                "cohort_id": cohort.id,
                "key": item.key,
                "kind": item.kind,
                "title": item.title[:200],
                "due_at": item.due_at,
                "state": "planned",
                "payload": item.payload,
                "result": {},
                "published_at": None,
            }
            if insert_if_absent(session, _ITEM, values):
                change.added += 1
                change.keys.append(item.key)
        elif (
            prune_after is not None
            and row.state == "planned"
            and (
                row.due_at != item.due_at
                or row.payload != _kept(row, item.payload)
                or row.title != item.title
            )
        ):
            row.due_at, row.title = item.due_at, item.title[:200]
            row.payload = _kept(row, item.payload)
            change.updated += 1
        if item.kind == "clinic" and (row is None or row.state == "planned"):
            _clinic_event(session, cohort, item)
    if prune_after is not None:
        gone = select(CadenceItem.key).where(
            CadenceItem.cohort_id == cohort.id,
            CadenceItem.state == "planned",
            CadenceItem.due_at >= prune_after,
            CadenceItem.key.not_in(keys),
        )
        stale = list(session.scalars(gone))
        if stale:
            session.execute(
                delete(CadenceItem)
                .where(CadenceItem.cohort_id == cohort.id, CadenceItem.key.in_(stale))
                .execution_options(synchronize_session=False)
            )
            clinics = [k for k in stale if k.startswith("clinic:")]
            if clinics:
                _drop_events(session, cohort, clinics)
            change.removed = len(stale)
    return change


def _clinic_event(session: Session, cohort: Cohort, item: PlannedItem) -> None:
    """The clinic's calendar entry exists as soon as it is planned (members can sign up)."""
    p = item.payload
    starts = datetime.fromisoformat(p["starts_at"]).astimezone(UTC)
    ends = datetime.fromisoformat(p["ends_at"]).astimezone(UTC)
    values = {
        "cohort_id": cohort.id,
        "kind": "clinic",
        "title": p["title"][:200],
        "description": f"Questions beforehand: the thread {p['anchor']}",
        "starts_at": starts,
        "ends_at": ends,
        "rrule": "",
        "location": p["location"][:500],
        "key": item.key,
        "anchor": None,
    }
    if insert_if_absent(session, _EVENT, values):
        return
    event = session.scalar(select(Event).where(Event.cohort_id == cohort.id, Event.key == item.key))
    if event is not None and (event.starts_at, event.ends_at, event.title, event.location) != (
        starts,
        ends,
        values["title"],
        values["location"],
    ):
        event.starts_at, event.ends_at = starts, ends
        event.title, event.location = values["title"], values["location"]


def _drop_events(session: Session, cohort: Cohort, keys: list[str]) -> None:
    ids = list(
        session.scalars(select(Event.id).where(Event.cohort_id == cohort.id, Event.key.in_(keys)))
    )
    if ids:
        session.execute(delete(EventSignup).where(EventSignup.event_id.in_(ids)))
        session.execute(delete(Event).where(Event.id.in_(ids)))
