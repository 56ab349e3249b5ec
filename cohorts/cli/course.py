"""``nbcohort course sync``: the cohort takes its micro-prompts and practices from
course/course.toml (run again after editing it)."""

from __future__ import annotations

from pathlib import Path

from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand
from nbcohort.cohorts.course import CourseError, CourseSpec, load_course
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.course_content import sync_course

__all__ = ["CourseApp", "CourseSync", "read_course"]


def read_course(root: Path) -> CourseSpec:
    """``root/course.toml``, or a CommandError naming the file and key at fault."""
    try:
        return load_course(root / "course.toml")
    except CourseError as exc:
        raise CommandError(str(exc)) from None


class CourseSync(NbCohortCommand):
    name = "course sync"
    description = (
        "Bring the cohort's micro-prompts and 'I applied this' practices up to date with "
        "course/course.toml."
    )

    def run(self) -> None:
        course = read_course(self.course_root())
        with self.store() as store, store.write() as s:
            cohort = self.cohort(s)
            said = sync_course(s, Actor.system(), cohort, course)
        print(f"cohort {cohort.slug!r}: {said}")


class CourseApp(NbCohortCommand):
    name = "course"
    description = "Keep the cohort in step with course/course.toml."
    subcommands = {"sync": (CourseSync, CourseSync.description)}

    def run(self) -> None:
        raise CommandError("choose a subcommand: sync")
