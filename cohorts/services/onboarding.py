"""The onboarding sequence: fourteen days, defined in the cohort file, that turn a newcomer
into a contributor.

Each member runs it on their own clock: day 0 is when they joined, or the cohort's first day
if they joined before it (a member who joins late starts at day 0 then). Day 0's step comes
at once; later steps at ``send_at`` in the member's own time zone. When a step is due the tick
either records it ``skipped`` (the member already did its action: detected from the store) or
``sent`` with an in-app notification (kind ``onboarding``; the email side mails those). Once a
member is a contributor (``contributor_posts`` posts outside micro-prompts, or a shared
artifact), their remaining steps are recorded ``stopped`` and nothing more is sent; a step
more than ``CATCH_UP_DAYS`` overdue (the tick was down) is recorded ``missed``. A step
is recorded once per member (unique member and step), in the same transaction as its
notification, so two ticks never notify twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Table, exists, func, literal, or_, select, union_all, update
from sqlalchemy.orm import Session, aliased

from nbcohort.cohorts.cohort_file import MAX_ONBOARDING_DAY, CohortFile, OnboardingStepSpec, render
from nbcohort.cohorts.local_time import at_local, in_zone, local_label
from nbcohort.cohorts.models import (
    Allocation,
    AppliedPractice,
    Artifact,
    CharterAck,
    CharterVersion,
    Cohort,
    Member,
    Notification,
    OnboardingStep,
    Post,
    Reaction,
    Review,
    Thread,
    utcnow,
)
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Forbidden, NotFound
from nbcohort.cohorts.services.rhythm import rhythm_of
from nbcohort.cohorts.services.unique import insert_if_absent

__all__ = [
    "Due",
    "OnboardingReport",
    "find_due",
    "mark_step_done",
    "onboarding_status",
    "send_due_steps",
]

_STEP = cast(Table, OnboardingStep.__table__)
_CHUNK = 900  # ids per IN (...) list
CATCH_UP_DAYS = 2  # a step overdue by more (the tick was down) is not sent late


@dataclass
class OnboardingReport:
    sent: int = 0
    skipped: int = 0
    stopped: int = 0
    missed: int = 0

    def __str__(self) -> str:
        said = f"{self.sent} sent, {self.skipped} skipped, {self.stopped} stopped"
        return said + (f", {self.missed} missed" if self.missed else "")


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


def cohort_start(spec: CohortFile) -> datetime:
    zone = in_zone(spec.cohort.timezone)
    return at_local(spec.cohort.starts_on, spec.onboarding.send_at, zone)


def step_due_at(start: datetime, day: int, send_at: time, zone: Any) -> datetime:
    """When step ``day`` comes for a member whose sequence began at ``start``."""
    if day == 0:
        return start
    return at_local(start.astimezone(zone).date() + timedelta(days=day), send_at, zone)


@dataclass
class Due:
    """The steps that came due, per member, and who those members are."""

    steps: dict[int, list[OnboardingStepSpec]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    missed: dict[int, list[OnboardingStepSpec]] = field(default_factory=dict)  # too late

    def __bool__(self) -> bool:
        return bool(self.steps or self.missed)


def find_due(session: Session, cohort: Cohort, spec: CohortFile, now: datetime) -> Due:
    """The steps not yet recorded whose time has come: per step, a select of the members
    whose sequence can be at that step now (a band of join dates, probed through the unique
    member and step), all steps in one statement (the tick asks every few minutes), then the
    exact time in each one's zone. A step more than ``CATCH_UP_DAYS`` overdue (the tick did
    not run for days) is not sent late but recorded ``missed``: the member has moved on, and
    the next step comes on its day."""
    due = Due()
    steps = sorted(spec.onboarding.steps, key=lambda s: s.day)
    begin = cohort_start(spec)
    window = now - timedelta(days=MAX_ONBOARDING_DAY + 2)
    send_at = spec.onboarding.send_at
    early = timedelta(hours=send_at.hour, minutes=send_at.minute) - timedelta(hours=1)
    selects = []
    for index, step in enumerate(steps):
        # Step d comes at send_at local on day d: at least (d - 1) days and (send_at - 1 h,
        # for a daylight-saving change) after the sequence began; day 0 at once.
        soonest = timedelta(days=step.day - 1) + early if step.day else timedelta(0)
        if begin + soonest > now:
            break  # nobody's sequence has reached this day yet
        query = select(
            literal(index).label("step"), Member.id, Member.joined_at, Member.timezone, Member.name
        ).where(
            Member.cohort_id == cohort.id,
            Member.active.is_(True),
            Member.role.in_(spec.onboarding.roles),
            Member.joined_at <= now - soonest,
            ~exists().where(OnboardingStep.member_id == Member.id, OnboardingStep.step == step.key),
        )
        oldest = max(window, now - timedelta(days=step.day + CATCH_UP_DAYS + 2))
        if begin <= oldest:  # everyone's sequence began with their joining: a band of dates
            query = query.where(Member.joined_at > oldest)
        selects.append(query)
    if not selects:
        return due
    rows = session.execute(union_all(*selects) if len(selects) > 1 else selects[0]).all()
    for index, member_id, joined, zone_name, name in sorted(rows, key=lambda r: (r[0], r[1])):
        step, start = steps[index], max(joined, begin)
        if start <= window:
            continue  # their fourteen days are over
        when = step_due_at(start, step.day, send_at, in_zone(zone_name))
        if when > now:
            continue
        if now - when > timedelta(days=CATCH_UP_DAYS):
            due.missed.setdefault(member_id, []).append(step)
            continue
        due.steps.setdefault(member_id, []).append(step)
        due.names[member_id] = name
    return due


def send_due_steps(
    session: Session, cohort: Cohort, spec: CohortFile, now: datetime
) -> OnboardingReport:
    """Record and notify every onboarding step that has come due (the tick's step)."""
    report = OnboardingReport()
    due = find_due(session, cohort, spec, now)
    for member_id, late in due.missed.items():
        for step in late:
            row = {"member_id": member_id, "step": step.key, "state": "missed", "at": now}
            report.missed += insert_if_absent(session, _STEP, row)
    if not due.steps:
        return report
    steps = sorted(spec.onboarding.steps, key=lambda s: s.day)
    ids = sorted(due.steps)
    converted = contributors(session, ids, spec.onboarding.contributor_posts)
    done: dict[str, set[int]] = {}
    for step in steps:
        pending = [m for m in ids if m not in converted and step in due.steps[m]]
        if pending:
            done[step.key] = done_by(session, cohort, step, pending)
    for member_id in ids:
        if member_id in converted:
            for step in steps:
                row = {"member_id": member_id, "step": step.key, "state": "stopped", "at": now}
                report.stopped += insert_if_absent(session, _STEP, row)
            continue
        for step in due.steps[member_id]:
            skip = member_id in done.get(step.key, set())
            row = {
                "member_id": member_id,
                "step": step.key,
                "state": "skipped" if skip else "sent",
                "at": now,
            }
            if not insert_if_absent(session, _STEP, row):
                continue  # another tick recorded it first
            if skip:
                report.skipped += 1
                continue
            data = step_data(cohort, step, due.names[member_id])
            session.add(
                Notification(member_id=member_id, kind="onboarding", created_at=now, data=data)
            )
            report.sent += 1
    return report


def step_data(cohort: Cohort, step: OnboardingStepSpec, name: str) -> dict[str, Any]:
    """A step as a member reads it (the notification's data, the widget's line)."""
    values = {
        "name": name.split()[0] if name.strip() else name,
        "cohort": cohort.title,
        "day": step.day,
        "link": step.link,
    }
    return {
        "step": step.key,
        "day": step.day,
        "title": render(step.title, values),
        "text": render(step.text, values),
        "link": step.link,
        "action": step.action,
    }


def contributors(session: Session, ids: Sequence[int], posts_needed: int) -> set[int]:
    """Which of ``ids`` are contributors: enough posts outside micro-prompts, or an artifact."""
    out: set[int] = set()
    for chunk in _chunks(ids):
        out.update(
            session.scalars(
                select(Post.author_id)
                .join(Thread, Post.thread_id == Thread.id)
                .where(Post.author_id.in_(chunk), Thread.kind != "prompt", Post.deleted.is_(False))
                .group_by(Post.author_id)
                .having(func.count() >= posts_needed)
            )
        )
        out.update(session.scalars(select(Artifact.author_id).where(Artifact.author_id.in_(chunk))))
    return out


def done_by(
    session: Session, cohort: Cohort, step: OnboardingStepSpec, ids: Sequence[int]
) -> set[int]:
    """Which of ``ids`` already did what ``step`` asks (from the store, never a guess)."""
    out: set[int] = set()
    for chunk in _chunks(ids):
        for query in _action_queries(cohort, step, chunk):
            out.update(session.scalars(query))
    return out


def _action_queries(cohort: Cohort, step: OnboardingStepSpec, ids: Iterable[int]) -> list[Any]:
    ids = list(ids)
    action = step.action
    if action == "ack_charter":
        latest = (
            select(func.max(CharterVersion.version))
            .where(CharterVersion.cohort_id == cohort.id)
            .scalar_subquery()
        )
        return [
            select(CharterAck.member_id).where(
                CharterAck.member_id.in_(ids), CharterAck.version == latest
            )
        ]
    posts = (
        select(Post.author_id)
        .join(Thread, Post.thread_id == Thread.id)
        .where(Post.author_id.in_(ids), Post.deleted.is_(False))
    )
    if action == "answer_prompt":
        return [posts.where(Thread.kind == "prompt")]
    if action == "post_in":
        anchor = step.anchor.strip()
        where = (
            Thread.anchor.startswith(anchor) if anchor.endswith("/") else Thread.anchor == anchor
        )
        return [posts.where(where)]
    if action == "engage_peer":
        parent = aliased(Post)
        replied = (
            select(Post.author_id)
            .join(parent, Post.parent_id == parent.id)
            .where(Post.author_id.in_(ids), parent.author_id != Post.author_id)
        )
        reacted = (
            select(Reaction.member_id)
            .join(Post, Reaction.post_id == Post.id)
            .where(Reaction.member_id.in_(ids), Post.author_id != Reaction.member_id)
        )
        return [replied, reacted]
    if action == "share_or_review":
        reviewed = (
            select(Allocation.reviewer_id)
            .join(Review, Review.allocation_id == Allocation.id)
            .where(Allocation.reviewer_id.in_(ids), Review.submitted_at.is_not(None))
        )
        return [select(Artifact.author_id).where(Artifact.author_id.in_(ids)), reviewed]
    if action == "apply_practice":
        return [select(AppliedPractice.member_id).where(AppliedPractice.member_id.in_(ids))]
    return []  # "none": done when the member says so


def onboarding_status(session: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
    """The actor's steps (done, to do, upcoming, with times in their own time zone) and what
    to do next."""
    require(actor, "cohort.read", cohort.id)
    spec = rhythm_of(cohort)
    if actor.member_id is None:
        raise Forbidden("only members have an onboarding")
    member = session.get_one(Member, actor.member_id)
    if spec is None or not spec.onboarding.steps or member.role not in spec.onboarding.roles:
        return {"active": False, "contributor": False, "steps": [], "next": None}
    zone = in_zone(member.timezone)
    start = max(member.joined_at, cohort_start(spec))
    now = utcnow()
    recorded = dict(
        session.execute(
            select(OnboardingStep.step, OnboardingStep.state).where(
                OnboardingStep.member_id == member.id
            )
        ).all()
    )
    contributor = bool(contributors(session, [member.id], spec.onboarding.contributor_posts))
    steps = []
    for step in sorted(spec.onboarding.steps, key=lambda s: s.day):
        due = step_due_at(start, step.day, spec.onboarding.send_at, zone)
        state = recorded.get(step.key)
        if state in ("done", "skipped") or done_by(session, cohort, step, [member.id]):
            status = "done"
        elif due <= now and state != "stopped" and not contributor:
            status = "todo"
        else:
            status = "upcoming" if due > now else "not needed"
        steps.append(
            {
                **step_data(cohort, step, member.name),
                "status": status,
                "due_at": due.isoformat(),
                "due_local": local_label(due, zone),
            }
        )
    upcoming = [s for s in steps if s["status"] == "todo"]
    return {
        "active": True,
        "contributor": contributor,
        "steps": steps,
        "next": upcoming[0] if upcoming else None,
    }


def mark_step_done(session: Session, actor: Actor, cohort: Cohort, key: str) -> dict[str, Any]:
    """The member says they did a step (a check-in question, an action the store cannot see)."""
    require(actor, "cohort.read", cohort.id)
    spec = rhythm_of(cohort)
    if actor.member_id is None:
        raise Forbidden("only members have an onboarding")
    if spec is None or all(s.key != key for s in spec.onboarding.steps):
        raise NotFound(f"no onboarding step {key!r}", field="step")
    row = {"member_id": actor.member_id, "step": key, "state": "done", "at": utcnow()}
    if not insert_if_absent(session, _STEP, row):
        session.execute(
            update(OnboardingStep)
            .where(
                OnboardingStep.member_id == actor.member_id,
                OnboardingStep.step == key,
                or_(OnboardingStep.state == "sent", OnboardingStep.state == "stopped"),
            )
            .values(state="done", at=utcnow())
        )
    return onboarding_status(session, actor, cohort)
