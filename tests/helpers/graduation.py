"""Cohorts with cohort files that name a community, for the graduation tests: applied as
``nbcohort cohort apply`` does, with a small roster each."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from nbcohort.cohorts.cohort_checks import check_cohort_file
from nbcohort.cohorts.models import Cohort, Member, utcnow
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_apply import apply_cohort_file
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.store import Store

__all__ = ["ROLES", "cohort_file", "demo_cohort_file_applied", "make_cohort"]

SYSTEM = Actor.system()
# username suffix -> role: every role a cohort has
ROLES = {
    "ana": "learner",
    "ben": "learner",
    "chi": "champion",
    "fay": "facilitator",
    "ivo": "instructor",
    "sam": "sponsor",
}


def cohort_file(slug: str, community: str | None, *, starts: date | None = None) -> str:
    """A cohort file for ``slug`` (started 30 days ago), in ``community`` (None: no
    [community] section)."""
    starts = starts or (utcnow().date() - timedelta(days=30))
    text = f"""
[cohort]
slug = "{slug}"
title = "Cohort {slug}"
starts_on = {starts.isoformat()}
ends_on = {(starts + timedelta(days=28)).isoformat()}
timezone = "Europe/Berlin"

[[cadence.routines]]
key = "top-tip"
title = "Top Tip"
day = "tuesday"
time = "10:00"
prompt = "Share a tip (week {{{{ week }}}})."
"""
    if community is not None:
        text += f"""
[community]
name = "{community}"
title = "Community {community}"
"""
    return text


def make_cohort(store: Store, slug: str, community: str | None) -> dict[str, Member]:
    """Apply the cohort file of ``slug`` and add one member per role (``<name>-<slug>``)."""
    text = cohort_file(slug, community)
    spec, problems = check_cohort_file(text, f"{slug}.toml")
    assert spec is not None, problems
    out = {}
    with store.write() as s:
        cohort, _ = apply_cohort_file(s, SYSTEM, spec, hashlib.sha256(text.encode()).hexdigest())
        for name, role in ROLES.items():
            out[name] = add_member(
                s, SYSTEM, cohort, name=f"{name.title()} {slug}", email=f"{name}@{slug}.org",
                role=role, team="red", username=f"{name}-{slug}",
            )  # fmt: skip
    return out


def cohort_of(store: Store, slug: str) -> Cohort:
    from sqlalchemy import select

    with store.read() as s:
        found = s.scalar(select(Cohort).where(Cohort.slug == slug))
        assert found is not None
        s.expunge(found)
        return found


def demo_cohort_file_applied(store: Store, cohort_id: int) -> None:
    """Give the seeded demo cohort the example cohort file made its own (as ``seed_rhythm``
    does), applied before its course began: its [community] names the community."""
    from datetime import UTC, datetime, time
    from datetime import timedelta as delta

    from sqlalchemy import select

    from nbcohort.cohorts.demo_rhythm import demo_cohort_file
    from nbcohort.cohorts.models import clock_at
    from tests.helpers.processes import REPO

    with store.write() as s:
        cohort = s.get_one(Cohort, cohort_id)
        people = list(s.scalars(select(Member).where(Member.cohort_id == cohort.id)))
        staff = {
            "facilitators": [m.username for m in people if m.role == "facilitator"],
            "champion": next(m.username for m in people if m.role == "champion"),
        }
        assert cohort.starts_on is not None
        start = datetime.combine(cohort.starts_on, time(0), tzinfo=UTC)
        template = (REPO / "course" / "cohorts" / "spring-27.toml").read_text()
        text = demo_cohort_file(template, cohort.slug, cohort.title, start, staff)
        spec, problems = check_cohort_file(text, "demo.toml")
        assert spec is not None and spec.community is not None, problems
        with clock_at(start - delta(days=2)):
            apply_cohort_file(s, SYSTEM, spec, hashlib.sha256(text.encode()).hexdigest())
