"""What the rhythm does when, as people read it: ``nbcohort cadence plan`` (in the cohort's
zone or any other) and a member's view (what a routine asks today, what comes next, in their
own zone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.cohort_file import CohortFile
from nbcohort.cohorts.local_time import at_local, in_zone, local_label
from nbcohort.cohorts.models import CadenceItem, Cohort, utcnow
from nbcohort.cohorts.prompt_library import community_prompts
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.cadence_plan import plan_items
from nbcohort.cohorts.services.rhythm import course_prompt_order, rhythm_of

__all__ = ["PlanLine", "cadence_for_member", "plan_lines"]


@dataclass(frozen=True)
class PlanLine:
    key: str
    kind: str
    title: str
    due_at: datetime
    state: str  # planned | published | missed | (not yet written: planned)
    anchor: str

    def text(self, zone: Any) -> str:
        local = self.due_at.astimezone(zone)
        when = f"{local:%a %Y-%m-%d %H:%M} {local.tzname()}"
        return f"{when:<26} {self.kind:<10} {self.state:<9} {self.title}"


def _anchor(kind: str, payload: dict[str, Any]) -> str:
    if kind == "prompt":
        return f"prompt/{payload.get('prompt', '')}"
    return str(payload.get("anchor", ""))


def plan_lines(
    session: Session, cohort: Cohort, spec: CohortFile, start: datetime, end: datetime
) -> list[PlanLine]:
    """Everything the rhythm does in [start, end): the stored plan with each item's state,
    and past the stored horizon what the cohort file will plan."""
    stored = {
        row.key: row
        for row in session.scalars(
            select(CadenceItem).where(
                CadenceItem.cohort_id == cohort.id,
                CadenceItem.due_at >= start,
                CadenceItem.due_at < end,
            )
        )
    }
    lines = {
        key: PlanLine(key, r.kind, r.title, r.due_at, r.state, _anchor(r.kind, r.payload))
        for key, r in stored.items()
    }
    for item in plan_items(spec, course_prompt_order(cohort), community_prompts(), start, end):
        if item.key not in lines:
            lines[item.key] = PlanLine(
                item.key,
                item.kind,
                item.title,
                item.due_at,
                "planned",
                _anchor(item.kind, item.payload),
            )
    return sorted(lines.values(), key=lambda line: (line.due_at, line.key))


def cadence_for_member(
    session: Session, actor: Actor, cohort: Cohort, days: int = 7
) -> dict[str, Any]:
    """Today's published items (what a prompt or a routine asks today) and the next
    ``days`` of the plan, in the actor's own time zone."""
    require(actor, "cohort.read", cohort.id)
    spec = rhythm_of(cohort)
    if spec is None:
        return {"today": [], "next": []}
    zone = in_zone(actor.timezone)
    now = utcnow()
    midnight = at_local(now.astimezone(zone).date(), time(0), zone)
    out: dict[str, list[dict[str, Any]]] = {"today": [], "next": []}
    for line in plan_lines(session, cohort, spec, midnight, now + timedelta(days=days)):
        entry = {
            "key": line.key,
            "kind": line.kind,
            "title": line.title,
            "due_at": line.due_at.isoformat(),
            "local": local_label(line.due_at, zone),
            "state": line.state,
            "anchor": line.anchor,
        }
        if line.state == "published" and line.due_at >= midnight:
            out["today"].append(entry)
        elif line.state == "planned" and line.due_at > now:
            out["next"].append(entry)
    return out
