"""Badge rules over the activity log, and awarding them exactly once.

Each rule counts one kind of event per member (``badge_file.BadgeEvent``) and awards its
badge to every active member whose count reaches the rule's ``count``. Awarding is one
``INSERT .. ON CONFLICT DO NOTHING`` per rule against the unique (member, badge): two
awarders at once (two ticks, a tick and ``nbcohort badges backfill``) never award a badge
twice, and a badge once awarded is never taken back by a rule (only ``revoke_badge``, by
staff, with a reason). A revoked award keeps its row, so no later evaluation awards it again.

When: not inside the member's own write, but by the ``badges`` step of ``nbcohort cadence
tick`` (every minute from cron) and by ``nbcohort badges backfill``. One evaluator for every
rule, so a rule added or changed in the cohort file is backfilled by the same code that awards
day to day; the write paths (posting, reacting) stay as fast as they are; a badge shows a
tick after it is earned (a write committed late, under a lower id than the watermark, is counted
at the cohort's next evaluation). ``BadgeCheck`` keeps how far the log was read and under which
rules, so a tick with nothing new costs two indexed reads.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Integer, Table, distinct, func, select, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from nbcohort.cohorts.badge_file import BadgeRule, effective_rules
from nbcohort.cohorts.cohort_file import CohortFile
from nbcohort.cohorts.models import (
    Activity,
    Allocation,
    Artifact,
    BadgeAward,
    BadgeCheck,
    Cohort,
    Member,
    Post,
    Review,
    clock_at,
    utcnow,
)
from nbcohort.cohorts.services.activity import record_many
from nbcohort.cohorts.services.rhythm import rhythm_of

__all__ = [
    "CONTRIBUTIONS",
    "award_badges",
    "award_if_due",
    "badges_due",
    "badges_step",
    "event_counts",
    "longest_run",
    "rules_of",
    "rules_sha",
]

# What counts as contributing (streaks, the spotlight): writing, not reading or reacting.
CONTRIBUTIONS = ("post.create", "review.submit", "artifact.share", "practice.applied")


class _week(FunctionElement[int]):
    """The Monday-based week number of a time (weeks since Monday 1969-12-29)."""

    type = Integer()
    inherit_cache = True


@compiles(_week, "postgresql")
def _week_pg(element: _week, compiler: Any, **kw: Any) -> str:
    at = compiler.process(element.clauses, **kw)
    return f"CAST(floor((date_part('epoch', {at}) / 86400.0 + 3) / 7) AS INTEGER)"


@compiles(_week, "sqlite")
def _week_sqlite(element: _week, compiler: Any, **kw: Any) -> str:
    at = compiler.process(element.clauses, **kw)
    return f"CAST((julianday({at}) - 2440587.5 + 3) / 7 AS INTEGER)"


def rules_of(cohort: Cohort) -> list[BadgeRule]:
    """The cohort's badge rules: the cohort file's, or the kit's for a cohort without one."""
    spec = rhythm_of(cohort)
    return effective_rules(spec.badges) if spec is not None else effective_rules(_no_file())


def _no_file() -> Any:
    from nbcohort.cohorts.badge_file import Badges

    return Badges.model_construct()


def rules_sha(rules: Iterable[BadgeRule]) -> str:
    """A fingerprint of the rules: a change (added, edited, turned off) means re-evaluating."""
    text = json.dumps([r.model_dump(mode="json") for r in rules], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _grouped(session: Session, statement: Any) -> dict[int, int]:
    return {m: n for m, n in session.execute(statement) if m is not None}


def event_counts(session: Session, cohort_id: int, event: str) -> dict[int, int]:
    """member id -> how many ``event``s the log credits them with."""
    a = Activity
    mine = (a.cohort_id == cohort_id,)
    if event == "week_streak":
        return _streaks(session, cohort_id)
    if event in ("post", "review_submitted", "artifact_shared", "practice_applied"):
        verb = {
            "post": "post.create",
            "review_submitted": "review.submit",
            "artifact_shared": "artifact.share",
            "practice_applied": "practice.applied",
        }[event]
        return _grouped(
            session,
            select(a.member_id, func.count(distinct(a.object_id)))
            .where(*mine, a.verb == verb)
            .group_by(a.member_id),
        )
    if event == "artifact_reused":
        return _grouped(
            session,
            select(Artifact.author_id, func.count(distinct(a.id)))
            .select_from(a)
            .join(Artifact, Artifact.id == a.object_id)
            .where(*mine, a.verb == "artifact.reuse", a.member_id != Artifact.author_id)
            .group_by(Artifact.author_id),
        )
    if event == "helpful_reply":
        return _grouped(
            session,
            select(Post.author_id, func.count(distinct(Post.id)))
            .select_from(a)
            .join(Post, Post.id == a.object_id)
            .where(
                *mine,
                a.verb == "post.react",
                a.data["kind"].as_string() == "helpful",
                Post.parent_id.is_not(None),
                a.member_id != Post.author_id,
            )
            .group_by(Post.author_id),
        )
    if event == "review_rated_helpful":
        return _grouped(
            session,
            select(Allocation.reviewer_id, func.count(distinct(Review.id)))
            .select_from(a)
            .join(Review, Review.id == a.object_id)
            .join(Allocation, Allocation.id == Review.allocation_id)
            .where(*mine, a.verb == "review.rate", a.data["helpfulness"].as_integer() >= 4)
            .group_by(Allocation.reviewer_id),
        )
    if event == "champion":
        appointed = select(a.object_id.label("m")).where(*mine, a.verb == "champion.appoint")
        rostered = select(Member.id.label("m")).where(
            Member.cohort_id == cohort_id, Member.role == "champion"
        )
        found = union(appointed, rostered).subquery()
        return {m: 1 for (m,) in session.execute(select(found.c.m)) if m is not None}
    if event == "pilot_owned":
        owner = a.data["owner"].as_integer()
        return _grouped(
            session,
            select(owner, func.count(distinct(a.object_id)))
            .where(*mine, a.verb == "pilot.create")
            .group_by(owner),
        )
    raise ValueError(f"unknown badge event {event!r}")


def _streaks(session: Session, cohort_id: int) -> dict[int, int]:
    """member id -> their longest run of consecutive weeks with a contribution."""
    week = _week(Activity.at)
    rows = session.execute(
        select(Activity.member_id, week)
        .where(Activity.cohort_id == cohort_id, Activity.verb.in_(CONTRIBUTIONS))
        .group_by(Activity.member_id, week)
    )
    weeks: dict[int, list[int]] = defaultdict(list)
    for member_id, w in rows:
        if member_id is not None:
            weeks[member_id].append(int(w))
    return {m: longest_run(ws) for m, ws in weeks.items()}


def longest_run(weeks: Iterable[int]) -> int:
    """The longest run of consecutive numbers in ``weeks``."""
    best = run = 0
    last: int | None = None
    for w in sorted(set(weeks)):
        run = run + 1 if last is not None and w == last + 1 else 1
        best, last = max(best, run), w
    return best


_AWARD = cast(Table, BadgeAward.__table__)
_CHUNK = 1000


def award_badges(
    session: Session, cohort: Cohort, rules: list[BadgeRule] | None = None
) -> dict[str, int]:
    """Evaluate every rule over the whole log and award what is due: badge key -> how many
    were awarded now (0 when all were awarded before). Safe to run twice at once."""
    rules = rules_of(cohort) if rules is None else rules
    active = set(
        session.scalars(
            select(Member.id).where(Member.cohort_id == cohort.id, Member.active.is_(True))
        )
    )
    counts: dict[str, dict[int, int]] = {}
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now, out, logged = utcnow(), {}, []
    for rule in rules:
        if rule.event not in counts:
            counts[rule.event] = event_counts(session, cohort.id, rule.event)
        due = sorted(m for m, n in counts[rule.event].items() if n >= rule.count and m in active)
        out[rule.key] = 0
        if not due:
            continue
        held = set(session.scalars(select(_AWARD.c.member_id).where(_AWARD.c.badge == rule.key)))
        reason = (rule.description or rule.title)[:500]
        made: list[Any] = []
        fresh = [m for m in due if m not in held]  # the unique key still decides a race
        for start in range(0, len(fresh), _CHUNK):  # SQLite binds at most 32,766 values
            rows = [
                {"member_id": m, "badge": rule.key, "reason": reason, "awarded_at": now}
                for m in fresh[start : start + _CHUNK]
            ]
            statement = dialect.insert(_AWARD).values(rows).on_conflict_do_nothing()
            made += session.execute(statement.returning(_AWARD.c.id, _AWARD.c.member_id)).all()
        out[rule.key] = len(made)
        logged += [
            {
                "member_id": None,
                "verb": "badge.award",
                "object_type": "badge_award",
                "object_id": award_id,
                "data": {"member": member_id, "badge": rule.key, "count": rule.count},
            }
            for award_id, member_id in made
        ]
    record_many(session, cohort.id, logged)
    return out


def badges_due(session: Session, cohort: Cohort, spec: CohortFile | None = None) -> bool:
    """Whether the rules changed, or the cohort's log grew, since the last evaluation. Two
    cheap reads: the log's newest id (its primary key), then only if the log grew at all,
    whether any of the rows since the watermark is this cohort's (a range of the key)."""
    rules = effective_rules(spec.badges) if spec is not None else rules_of(cohort)
    check = session.get(BadgeCheck, cohort.id)
    if check is None or check.rules_sha != rules_sha(rules):
        return True
    newest = session.scalar(select(func.max(Activity.id))) or 0
    if newest <= check.activity_upto:
        return False
    mine = select(Activity.id).where(
        Activity.id > check.activity_upto, Activity.cohort_id == cohort.id
    )
    return session.scalar(mine.limit(1)) is not None


def award_if_due(
    session: Session, cohort: Cohort, spec: CohortFile | None = None
) -> dict[str, int]:
    """The tick's step: award only when the log grew or the rules changed since last time
    (``BadgeCheck``); otherwise nothing but one read."""
    if not badges_due(session, cohort, spec):
        return {}
    rules = effective_rules(spec.badges) if spec is not None else rules_of(cohort)
    awarded = award_badges(session, cohort, rules)
    # Read after awarding: the awards just logged are no news for the next tick.
    upto = session.scalar(select(func.max(Activity.id))) or 0
    sha, at = rules_sha(rules), utcnow()
    values: dict[str, Any] = {"activity_upto": upto, "rules_sha": sha, "checked_at": at}
    check = session.get(BadgeCheck, cohort.id)
    if check is None:
        session.execute(
            (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite)
            .insert(cast(Table, BadgeCheck.__table__))
            .values(cohort_id=cohort.id, **values)
            .on_conflict_do_nothing()
        )
    else:
        check.activity_upto, check.rules_sha, check.checked_at = upto, sha, at
    return awarded


def badges_step(ctx: Any) -> str:
    """``nbcohort cadence tick``'s ``badges`` step (a ``cadence_tick.TickContext``): a read
    first; a write only when the log grew or the rules changed."""
    with ctx.store.read() as s:
        if not badges_due(s, ctx.cohort, ctx.spec):
            return "nothing due"
    with clock_at(ctx.now), ctx.store.write() as s:
        cohort = s.merge(ctx.cohort)
        awarded = award_if_due(s, cohort, ctx.spec)
        _draft_spotlight(s, cohort, ctx.spec, ctx.now)
    made = {k: n for k, n in awarded.items() if n}
    return ", ".join(f"{n} {k}" for k, n in made.items()) or "nothing due"


def _draft_spotlight(session: Session, cohort: Cohort, spec: CohortFile, now: Any) -> None:
    """Draft (or refresh) the spotlight of the coming highlights, so staff can edit it."""
    if not (spec.badges.enabled and spec.badges.spotlight.enabled):
        return
    from datetime import datetime

    from nbcohort.cohorts.services.spotlight import draft_spotlight, next_highlights, week_of

    item = next_highlights(session, cohort.id, now)
    if item is not None:
        since = datetime.fromisoformat(item.payload["since"])
        week = week_of(item.due_at)
        draft_spotlight(session, cohort, spec.badges.spotlight, since, now, week)
