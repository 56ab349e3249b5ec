"""The demo cohort seeded into a test store, with tokens for a learner, a sponsor and an
instructor: what the page tests render and compare with the metrics module."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from nbcohort.cohorts.course import CourseSpec, load_course
from nbcohort.cohorts.demo_seed import seed_demo
from nbcohort.cohorts.models import Member
from nbcohort.cohorts.services.auth import Actor, mint_token
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.store import Store
from tests.helpers.processes import REPO

__all__ = ["DemoPages", "demo_course", "seed_pages"]


def demo_course() -> CourseSpec:
    return load_course(REPO / "course" / "course.toml")


@dataclass
class DemoPages:
    slug: str
    tokens: dict[str, str]  # learner, sponsor, instructor
    names: dict[str, str]


def seed_pages(store: Store) -> DemoPages:
    """Seed the demo cohort (two weeks of activity) and mint tokens; a sponsor is added."""
    with store.write() as s:
        cohort = seed_demo(s, demo_course()).cohort
        system = Actor.system()
        people = s.scalars(
            select(Member).where(Member.cohort_id == cohort.id).order_by(Member.id)
        ).all()
        learner = next(m for m in people if m.role == "learner")
        instructor = next(m for m in people if m.role == "instructor")
        sponsor = add_member(
            s, system, cohort, name="Sam Sponsor", email="sam@example.org", role="sponsor",
            team="", username="sam",
        )  # fmt: skip
        chosen = {"learner": learner, "sponsor": sponsor, "instructor": instructor}
        tokens = {k: mint_token(s, system, m, "pages") for k, m in chosen.items()}
        return DemoPages(cohort.slug, tokens, {k: m.name for k, m in chosen.items()})
