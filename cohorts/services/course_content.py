"""What a cohort takes from its course.toml: the micro-prompts and the practices."""

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
    return (
        f"{prompts} of {len(course.prompts)} micro-prompts and "
        f"{practices} of {len(course.practices)} practices added or changed"
    )
