"""``nbcohort cohort graduate``: the formal course ends and the cohort carries on as part of a
community of practice.

Graduating a cohort (instructors, or the local administrator) turns its learners into alumni
(every other role stays), names the community its cohort file's ``[community]`` section
gives, and switches the cadence to the community's rhythm (the course's cadence is kept in
the settings under ``course_cadence``; planned items the new rhythm no longer asks for leave
the plan, published ones stay). Threads, posts and artifacts are not touched: nothing is
deleted. Community topics open (``community.py``), review rounds no longer open
(``refuse_after_graduation``, which every path that opens a round calls).

It is refused while a review round is open (naming it). Graduating again changes nothing; a
dry run does the same work in a savepoint and rolls it back, so it says exactly what would
change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.cohort_file import CohortFile
from nbcohort.cohorts.local_time import in_zone
from nbcohort.cohorts.models import Cohort, Member, ReviewRound, utcnow
from nbcohort.cohorts.prompt_library import community_prompts
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.cadence_plan import PlanChange, plan_items, sync_plan
from nbcohort.cohorts.services.cohort_apply import routine_events
from nbcohort.cohorts.services.errors import Conflict, Invalid
from nbcohort.cohorts.services.graduated_roles import GRADUATED_ROLES, lock_cohort
from nbcohort.cohorts.services.rhythm import (
    community_rhythm,
    course_prompt_order,
    course_until,
    plan_window,
    rhythm_of,
)

__all__ = ["GraduationReport", "graduate", "refuse_after_graduation"]

COMMUNITY_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass
class GraduationReport:
    """What graduating did (or, for a dry run, would do)."""

    cohort: str
    community: str
    dry_run: bool = False
    already: bool = False  # graduated before: nothing changed
    alumni: list[str] = field(default_factory=list)  # usernames, learner -> alumni
    kept: dict[str, int] = field(default_factory=dict)  # other roles, unchanged: role -> count
    plan: PlanChange = field(default_factory=PlanChange)
    joined_with: list[str] = field(default_factory=list)  # cohorts already in the community

    def as_dict(self) -> dict[str, Any]:
        return {
            "cohort": self.cohort,
            "community": self.community,
            "dry_run": self.dry_run,
            "already": self.already,
            "alumni": list(self.alumni),
            "kept": dict(self.kept),
            "plan": {
                "added": self.plan.added,
                "updated": self.plan.updated,
                "removed": self.plan.removed,
            },
            "joined_with": list(self.joined_with),
        }

    def summary(self) -> str:
        if self.already:
            return (
                f"cohort {self.cohort!r} graduated into {self.community!r} before: nothing "
                "to change"
            )
        head = "would graduate" if self.dry_run else "graduated"
        kept = ", ".join(f"{n} {role}" for role, n in sorted(self.kept.items())) or "none"
        others = ", ".join(self.joined_with) or "no other cohort yet"
        return "\n".join(
            [
                f"cohort {self.cohort!r} {head} into the community {self.community!r}",
                f"roles: {len(self.alumni)} learners become alumni; kept as they are: {kept}",
                "threads, posts and artifacts: unchanged (nothing is deleted)",
                f"topics: community topics open, shared with {others}",
                f"cadence: the community's rhythm ({self.plan})",
                "review rounds: no new round can open",
            ]
        )


def refuse_after_graduation(session: Session, cohort_id: int, what: str) -> None:
    """Refuse ``what`` (opening a review round) in a cohort that has graduated. The cohort
    row stays locked (``lock_cohort``) until the caller commits, so a graduation waits for
    it, then sees what it opened (and refuses), or ran first and this refuses."""
    row = lock_cohort(session, cohort_id)
    if row.graduated_at is not None:
        raise Conflict(
            f"cohort {row.slug!r} graduated into the community {row.community!r} on "
            f"{row.graduated_at:%Y-%m-%d}: the formal course has ended, so {what}",
            field="cohort",
        )


def graduate(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    *,
    dry_run: bool = False,
    horizon_days: int = 35,
) -> GraduationReport:
    """Graduate ``cohort`` into the community its cohort file names (see the module)."""
    require(actor, "cohort.graduate", cohort.id)
    # The row as committed now, locked until this unit of work ends (the API hands over a
    # cached, detached copy): a second graduation waits and then finds it graduated, and a
    # review round or a member arriving meanwhile waits for this one, or went first.
    cohort = lock_cohort(session, cohort.id)
    spec = rhythm_of(cohort)
    if spec is None or spec.community is None:
        raise Invalid(
            f"cohort {cohort.slug!r} has no community to graduate into: add a [community] "
            "section with its name to the cohort file, then `nbcohort cohort apply FILE`",
            field="community",
        )
    name = spec.community.name
    if not COMMUNITY_NAME.match(name):  # the file was checked; the stored copy is checked too
        raise Invalid(f"community name {name!r} is malformed", field="community")
    report = GraduationReport(cohort.slug, name, dry_run=dry_run)
    if cohort.graduated_at is not None:
        if cohort.community != name:
            raise Conflict(
                f"cohort {cohort.slug!r} graduated into {cohort.community!r}; its cohort file "
                f"now names {name!r}: a cohort graduates once",
                field="community",
            )
        report.already = True
        return report
    open_rounds = list(
        session.scalars(
            select(ReviewRound.assignment)
            .where(ReviewRound.cohort_id == cohort.id, ReviewRound.status == "open")
            .order_by(ReviewRound.assignment)
        )
    )
    if open_rounds:
        listed = ", ".join(repr(a) for a in open_rounds)
        raise Conflict(
            f"cohort {cohort.slug!r} has an open review round ({listed}): close it first "
            f"(nbcohort review close {open_rounds[0]})",
            field="review_round",
        )
    report.joined_with = list(
        session.scalars(
            select(Cohort.slug)
            .where(Cohort.community == name, Cohort.id != cohort.id)
            .order_by(Cohort.slug)
        )
    )
    # A dry run does the whole work in a savepoint and takes it back, so its report is exactly
    # what graduating would change; a failure is the unit of work's to roll back (store.write).
    savepoint = session.begin_nested()
    _graduate(session, actor, cohort, spec, report, horizon_days)
    if dry_run:
        savepoint.rollback()
        session.expire(cohort)
    else:
        savepoint.commit()
    return report


def _graduate(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    spec: CohortFile,
    report: GraduationReport,
    horizon_days: int,
) -> None:
    assert spec.community is not None
    now = utcnow()
    for member in session.scalars(
        select(Member).where(Member.cohort_id == cohort.id).order_by(Member.username)
    ):
        if member.role in GRADUATED_ROLES and member.left_at is None:
            member.role = GRADUATED_ROLES[member.role]
            member.updated_at = now
            report.alumni.append(member.username)
        elif member.left_at is None:
            report.kept[member.role] = report.kept.get(member.role, 0) + 1
    cohort.community = spec.community.name
    cohort.graduated_at = now
    settings = dict(cohort.settings or {})
    rhythm = community_rhythm(spec)
    settings["course_cadence"] = spec.cadence.model_dump(mode="json")
    settings["rhythm"] = rhythm.model_dump(mode="json")
    cohort.settings = settings
    session.flush()
    start, end = plan_window(rhythm, now, horizon_days)
    items = plan_items(rhythm, course_prompt_order(cohort), community_prompts(), start, end)
    report.plan = sync_plan(session, cohort, items, prune_after=now)
    # The course's routines end in the calendar on graduation day (their entries stay).
    today = now.astimezone(in_zone(cohort.timezone)).date()
    routine_events(session, cohort, course_until(spec, today))
    record(
        session,
        cohort.id,
        actor.member_id,
        "cohort.graduate",
        cohort,
        community=spec.community.name,
        alumni=len(report.alumni),
        plan=str(report.plan),
    )
