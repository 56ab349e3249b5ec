"""``nbcohort cohort validate FILE`` and ``nbcohort cohort apply FILE``: a cohort defined by
its cohort file (see cohorts/cohort_file.py and course/cohorts/ for an example)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand
from nbcohort.cohorts.cli.course import read_course
from nbcohort.cohorts.cohort_checks import CohortFileError, load_cohort_file
from nbcohort.cohorts.cohort_file import CohortFile
from nbcohort.cohorts.config import CadenceSettings
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_apply import apply_cohort_file

__all__ = ["CohortApply", "CohortValidate", "gradebook_due_dates", "read_cohort_file"]


def read_cohort_file(path: Path) -> tuple[CohortFile, str]:
    """The checked file, or every problem on stderr and a CommandError counting them."""
    try:
        return load_cohort_file(path)
    except CohortFileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        n = len(exc.problems)
        raise CommandError(f"{n} problem{'s' if n != 1 else ''} in {path}") from None


def gradebook_due_dates(config: Any) -> dict[str, datetime]:
    """nbgrader's assignment due dates, read from its gradebook database (a plain query, no
    nbgrader start-up); nothing when there is no gradebook yet."""
    from nbgrader.coursedir import CourseDirectory

    url = CourseDirectory(config=config).db_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return {}
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT name, duedate FROM assignment WHERE duedate IS NOT NULL")
            ).all()
    except SQLAlchemyError:
        return {}
    finally:
        engine.dispose()
    out = {}
    for name, due in rows:
        when = due if isinstance(due, datetime) else datetime.fromisoformat(str(due))
        out[str(name)] = when.replace(tzinfo=UTC) if when.tzinfo is None else when  # nbgrader: UTC
    return out


class CohortValidate(NbCohortCommand):
    name = "cohort validate"
    description = (
        "Check a cohort file and list every problem with file, key and line (templates are "
        "rendered once, so an undefined variable is found now): nbcohort cohort validate FILE"
    )

    def run(self) -> None:
        path = Path(self.arg(0, "the cohort file"))
        spec, _ = read_cohort_file(path)
        c = spec.cadence
        print(
            f"{path}: ok. Cohort {spec.cohort.slug!r} from {spec.cohort.starts_on} "
            f"({spec.cohort.timezone}): {len(c.routines)} routines, "
            f"{len(spec.onboarding.steps)} onboarding steps"
        )


class CohortApply(NbCohortCommand):
    name = "cohort apply"
    description = (
        "Create or update the cohort a cohort file defines: its dates and settings, the "
        "course's micro-prompts and practices (as 'course sync'), nbgrader's due dates and the "
        "routines in its calendar, and the cadence plan. Safe to run again: nbcohort cohort "
        "apply FILE"
    )

    def run(self) -> None:
        path = Path(self.arg(0, "the cohort file"))
        spec, sha = read_cohort_file(path)
        root = self.course_root()
        course = read_course(root) if (root / "course.toml").is_file() else None
        deadlines = gradebook_due_dates(self.config)
        horizon = CadenceSettings(parent=self).horizon_days
        with self.store(upgrade=True) as store, store.write() as s:
            cohort, report = apply_cohort_file(
                s,
                Actor.system(),
                spec,
                sha,
                source=str(path.resolve()),
                course=course,
                deadlines=deadlines,
                horizon_days=horizon,
            )
        if course is not None and spec.cohort.course and spec.cohort.course != course.id:
            report.notes.append(
                f"the file names course {spec.cohort.course!r}; {root / 'course.toml'} is "
                f"{course.id!r}"
            )
        print(report.summary(cohort.slug))
