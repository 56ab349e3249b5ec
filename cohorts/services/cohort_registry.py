"""The cohort registry: create a cohort, find one, list them, describe one."""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.plain_text import unseen_characters
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound

__all__ = ["cohort_summary", "create_cohort", "get_cohort", "list_cohorts"]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def create_cohort(
    session: Session,
    actor: Actor,
    slug: str,
    title: str,
    *,
    course: str = "",
    charter: str = "",
    starts_on: date | None = None,
    ends_on: date | None = None,
    timezone: str = "UTC",
) -> Cohort:
    """Create a cohort (local administrators only)."""
    if not actor.is_system:
        raise Forbidden("only the local administrator creates cohorts")
    if not _SLUG.match(slug):
        raise Invalid(
            f"cohort slug {slug!r} must be lowercase letters, digits and '-' (max 63)",
            field="slug",
        )
    title = clean_cohort_title(title)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown timezone {timezone!r}", field="timezone") from None
    if starts_on and ends_on and ends_on < starts_on:
        raise Invalid("the cohort ends before it starts", field="ends_on")
    if session.scalar(select(Cohort.id).where(Cohort.slug == slug)) is not None:
        raise Conflict(f"cohort {slug!r} already exists", field="slug")
    cohort = Cohort(
        slug=slug,
        title=title,
        course=course,
        charter=charter,
        starts_on=starts_on,
        ends_on=ends_on,
        timezone=timezone,
        settings={},
    )
    session.add(cohort)
    session.flush()
    record(session, cohort.id, None, "cohort.create", cohort, slug=slug)
    return cohort


def clean_cohort_title(title: str) -> str:
    """A cohort's title, one line of plain text: it heads pages, emails and calendars."""
    if not title.strip():
        raise Invalid("a cohort needs a title", field="title")
    bad = unseen_characters(title)
    if bad:
        raise Invalid(
            f"a cohort's title is one line of text, without control or invisible characters "
            f"({', '.join(bad)})",
            field="title",
        )
    return title.strip()


def get_cohort(session: Session, slug: str) -> Cohort:
    cohort = session.scalar(select(Cohort).where(Cohort.slug == slug))
    if cohort is None:
        known = ", ".join(session.scalars(select(Cohort.slug).order_by(Cohort.slug))) or "none"
        raise NotFound(f"no cohort {slug!r} (known: {known})", field="cohort")
    return cohort


def list_cohorts(session: Session) -> list[Cohort]:
    return list(session.scalars(select(Cohort).order_by(Cohort.slug)))


def cohort_summary(session: Session, actor: Actor, cohort: Cohort) -> dict[str, object]:
    """What a member sees of their cohort."""
    require(actor, "cohort.read", cohort.id)
    counts = dict(
        session.execute(
            select(Member.role, func.count())
            .where(Member.cohort_id == cohort.id, Member.active.is_(True))
            .group_by(Member.role)
        ).all()
    )
    return {
        "slug": cohort.slug,
        "title": cohort.title,
        "course": cohort.course,
        "charter": cohort.charter,
        "starts_on": cohort.starts_on.isoformat() if cohort.starts_on else None,
        "ends_on": cohort.ends_on.isoformat() if cohort.ends_on else None,
        "timezone": cohort.timezone,
        "members": counts,
    }
