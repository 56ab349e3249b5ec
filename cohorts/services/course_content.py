"""What a cohort takes from its course.toml: the micro-prompts, the practices, and where
each section is (for links from notifications to the right notebook and cell)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from nbcohort.cohorts.course import CourseSpec
from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.practices import sync_practices
from nbcohort.cohorts.services.prompts import sync_prompts

__all__ = ["sync_course"]


def sync_course(session: Session, actor: Actor, cohort: Cohort, course: CourseSpec) -> str:
    """Bring the cohort's prompts and practices up to date with ``course``; says what changed.
    Safe to run again: unchanged entries are left as they are."""
    prompts = sync_prompts(session, actor, cohort, course.prompts)
    practices = sync_practices(session, actor, cohort, course.practices)
    if (cohort.settings or {}).get("sections") != course.sections:
        cohort.settings = {**(cohort.settings or {}), "sections": course.sections}
    return (
        f"{prompts} of {len(course.prompts)} micro-prompts and "
        f"{practices} of {len(course.practices)} practices added or changed"
    )
