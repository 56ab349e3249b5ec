"""The weekly spotlight of repeat contributors, which goes out with the weekly highlights.

The rule (``[badges.spotlight]`` in the cohort file sets the numbers):

- a member qualifies for a week when, in that week, they contributed (a post, a submitted
  review, a shared artifact, "I applied this") at least ``min_contributions`` times on at
  least ``min_days`` different days; they are active, not a sponsor, and do not hide their
  badges (a member who asked not to be shown is not put in a spotlight);
- qualifiers are ranked by contributions, then days, then username;
- nobody is in the spotlight two weeks running: last week's people are left out, unless no
  one else qualifies (then the spotlight is chosen among them);
- the first ``size`` are picked.

The tick's ``badges`` step drafts the spotlight of the coming highlights (and refreshes the
draft while it stays a draft); a facilitator may edit it (members, a note) until it goes out;
publishing the highlights publishes it and marks it published. Whoever no longer qualifies
to be shown when it goes out (left, deactivated, now hides their badges, now a sponsor) is
dropped from it then: the rest goes out, and the stored spotlight says who went out.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.badge_file import SpotlightRule
from nbcohort.cohorts.models import Activity, CadenceItem, Cohort, Member, Spotlight, utcnow
from nbcohort.cohorts.sanitize import markdown_text
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.badges import CONTRIBUTIONS
from nbcohort.cohorts.services.errors import Conflict, Invalid, NotFound
from nbcohort.cohorts.services.unique import add_unique

__all__ = [
    "draft_spotlight",
    "edit_spotlight",
    "next_highlights",
    "publish_spotlight",
    "qualifiers",
    "spotlight_dict",
    "week_of",
]

MAX_NOTE = 500
# Who may be shown in a spotlight at all: the automatic pick, a facilitator's edit and
# publishing all apply it (a member who asked not to be shown, or left, never is).
SHOWN = (
    Member.active.is_(True),
    Member.left_at.is_(None),
    Member.badges_hidden.is_(False),
    Member.role != "sponsor",
)


def week_of(until: datetime) -> date:
    """The week a highlights post at ``until`` covers, named by its Monday (UTC)."""
    day = until.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def qualifiers(
    session: Session, cohort_id: int, since: datetime, until: datetime, rule: SpotlightRule
) -> list[tuple[int, str]]:
    """(member id, why) of everyone who qualifies for [since, until), best first."""
    rows = session.execute(
        select(Activity.member_id, Activity.at)
        .join(Member, Member.id == Activity.member_id)
        .where(
            Activity.cohort_id == cohort_id,
            Activity.verb.in_(CONTRIBUTIONS),
            Activity.at >= since,
            Activity.at < until,
            *SHOWN,
        )
    )
    counts: dict[int, int] = defaultdict(int)
    days: dict[int, set[date]] = defaultdict(set)
    for member_id, at in rows:
        if member_id is None:
            continue
        counts[member_id] += 1
        days[member_id].add(at.date())
    names = dict(
        session.execute(select(Member.id, Member.username).where(Member.id.in_(list(counts)))).all()
    )
    found = [
        (m, n, len(days[m]))
        for m, n in counts.items()
        if n >= rule.min_contributions and len(days[m]) >= rule.min_days
    ]
    found.sort(key=lambda x: (-x[1], -x[2], names.get(x[0], "")))
    return [(m, f"{n} contributions on {d} days") for m, n, d in found]


def _pick(
    session: Session, cohort: Cohort, week: date, since: datetime, until: datetime, rule: Any
) -> tuple[list[int], dict[str, str]]:
    found = qualifiers(session, cohort.id, since, until, rule)
    last = session.scalar(
        select(Spotlight.member_ids).where(
            Spotlight.cohort_id == cohort.id, Spotlight.week == week - timedelta(days=7)
        )
    )
    fresh = [q for q in found if q[0] not in set(last or [])]
    chosen = (fresh or found)[: rule.size]
    return [m for m, _ in chosen], {str(m): why for m, why in chosen}


def draft_spotlight(
    session: Session,
    cohort: Cohort,
    rule: SpotlightRule,
    since: datetime,
    until: datetime,
    week: date | None = None,
) -> Spotlight:
    """The spotlight of ``week`` (default: the week of ``until``) from what happened in
    [since, until), drafted now or refreshed if still a draft (an edited or published one
    is left as it is)."""
    week = week or week_of(until)
    members, reasons = _pick(session, cohort, week, since, until, rule)
    row, created = add_unique(
        session,
        Spotlight(
            cohort_id=cohort.id,
            week=week,
            member_ids=members,
            reasons=reasons,
            note="",
            state="draft",
            updated_at=utcnow(),
        ),
        lambda: session.scalar(
            select(Spotlight).where(Spotlight.cohort_id == cohort.id, Spotlight.week == week)
        ),
    )
    if not created and row.state == "draft" and (row.member_ids, row.reasons) != (members, reasons):
        row.member_ids, row.reasons, row.updated_at = members, reasons, utcnow()
    return row


def edit_spotlight(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    week: date,
    member_ids: list[int],
    note: object = "",
) -> Spotlight:
    """A facilitator's edit before it goes out: who is in it, and a note. Refused once it
    went out, and for anyone the spotlight may not show (``SHOWN``: not an active member of
    this cohort, a sponsor, or a member who hides their badges)."""
    require(actor, "spotlight.edit", cohort.id)
    row = session.scalar(
        select(Spotlight).where(Spotlight.cohort_id == cohort.id, Spotlight.week == week)
    )
    if row is None:
        raise NotFound(f"no spotlight drafted for the week of {week}", field="week")
    if row.state == "published":
        raise Conflict(f"the spotlight of the week of {week} has gone out", field="week")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise Invalid(f"note: text of at most {MAX_NOTE} characters", field="note")
    if len(member_ids) > 10 or len(set(member_ids)) != len(member_ids):
        raise Invalid("member_ids: at most 10 members, each once", field="member_ids")
    known = set(
        session.scalars(
            select(Member.id).where(
                Member.cohort_id == cohort.id, Member.id.in_(member_ids), *SHOWN
            )
        )
    )
    for m in member_ids:
        if m not in known:
            raise Invalid(
                f"member_ids: {m} may not be in the spotlight of {cohort.slug} (only active "
                "members who show their badges, not sponsors)",
                field="member_ids",
            )
    reasons = {str(m): row.reasons.get(str(m), "chosen by a facilitator") for m in member_ids}
    row.member_ids, row.reasons, row.note = list(member_ids), reasons, note.strip()
    row.state, row.edited_by, row.updated_at = "edited", actor.member_id, utcnow()
    record(session, cohort.id, actor.member_id, "spotlight.edit", row, members=member_ids)
    return row


def publish_spotlight(
    session: Session, cohort: Cohort, rule: SpotlightRule, since: datetime, until: datetime
) -> list[str]:
    """Mark the week's spotlight published (drafting it first if the tick never did) and
    return its Markdown lines for the highlights post. Members who no longer qualify to be
    shown (``SHOWN``) are dropped first, so the stored row says who went out."""
    row = draft_spotlight(session, cohort, rule, since, until)
    names = dict(
        session.execute(
            select(Member.id, Member.name).where(
                Member.cohort_id == cohort.id, Member.id.in_(row.member_ids or [0]), *SHOWN
            )
        ).all()
    )
    if row.state != "published":
        kept = [m for m in row.member_ids if m in names]
        if kept != list(row.member_ids):
            row.member_ids = kept
            row.reasons = {str(m): row.reasons.get(str(m), "") for m in kept}
        row.state, row.published_at = "published", utcnow()
    people = [
        f"**{markdown_text(names[m])}** ({row.reasons.get(str(m), '')})"
        for m in row.member_ids
        if m in names
    ]
    if not people:
        return []
    lines = ["**Spotlight**: " + "; ".join(people) + "."]
    if row.note:
        lines.append(row.note)
    return lines


def next_highlights(session: Session, cohort_id: int, now: datetime) -> CadenceItem | None:
    """The next highlights post still to go out (whose spotlight the tick drafts)."""
    return session.scalar(
        select(CadenceItem)
        .where(
            CadenceItem.cohort_id == cohort_id,
            CadenceItem.kind == "highlights",
            CadenceItem.state == "planned",
            CadenceItem.due_at >= now,
        )
        .order_by(CadenceItem.due_at)
        .limit(1)
    )


def spotlight_dict(session: Session, actor: Actor, cohort: Cohort, week: date) -> dict[str, Any]:
    """A week's spotlight: staff see drafts, members only what went out."""
    require(actor, "cohort.read", cohort.id)
    row = session.scalar(
        select(Spotlight).where(Spotlight.cohort_id == cohort.id, Spotlight.week == week)
    )
    if row is None or (row.state != "published" and not actor.can("spotlight.edit")):
        raise NotFound(f"no spotlight for the week of {week}", field="week")
    return {
        "week": row.week.isoformat(),
        "state": row.state,
        "members": row.member_ids,
        "reasons": row.reasons,
        "note": row.note,
        "published_at": row.published_at.isoformat() if row.published_at else None,
    }
