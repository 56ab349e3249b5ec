"""What a review round asks of nbgrader, in-process through its API: collect the latest
submissions, make sure they are autograded, write peer scores and comments into the
gradebook, and generate and release feedback."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from nbgrader.api import MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from nbcohort.exchange.release import _alembic_on_path

__all__ = [
    "CellGrade",
    "Collected",
    "NbGraderError",
    "autograde",
    "collect",
    "nbgrader_api",
    "release_feedback",
    "write_grades",
]


class NbGraderError(RuntimeError):
    """nbgrader refused a step; the message carries the end of nbgrader's own log."""


@dataclass(frozen=True)
class Collected:
    student: str
    folder: Path
    timestamp: datetime | None


@dataclass(frozen=True)
class CellGrade:
    """A peer score for one nbgrader grade cell, with the comment the author will read."""

    score: float
    comment: str


def nbgrader_api(config: Config) -> NbGraderAPI:
    _alembic_on_path()
    coursedir = CourseDirectory(config=config)
    api = NbGraderAPI(coursedir=coursedir, config=config)
    api.log.setLevel(logging.WARNING)
    return api


def _checked(result: dict[str, object], step: str) -> None:
    if not result.get("success"):
        detail = str(result.get("error") or result.get("log") or "").strip()[-2000:]
        raise NbGraderError(f"nbgrader {step} failed:\n{detail}")


def collect(api: NbGraderAPI, assignment: str) -> dict[str, Collected]:
    """``nbgrader collect --update``, then every student's collected submission folder."""
    _checked(api.collect(assignment, update=True), f"collect {assignment}")
    coursedir = api.coursedir
    out = {}
    root = Path(coursedir.root) / coursedir.submitted_directory
    for folder in sorted(root.glob(f"*/{assignment}")):
        if not folder.is_dir():
            continue
        student = folder.parent.name
        stamp = coursedir.get_existing_timestamp(str(folder))
        when = stamp.replace(tzinfo=stamp.tzinfo or UTC).astimezone(UTC) if stamp else None
        out[student] = Collected(student, folder, when)
    return out


def autograde(api: NbGraderAPI, assignment: str, students: Iterable[str]) -> dict[str, str]:
    """Autograde the submissions not yet in the gradebook (grade cells only exist after it);
    returns the students nbgrader could not autograde, with the reason."""
    done = set(api.get_autograded_students(assignment))
    failed = {}
    for student in sorted(set(students) - done):
        result = api.autograde(assignment, student, force=True, create=True)
        if not result.get("success"):
            failed[student] = str(result.get("error") or result.get("log") or "")[-500:]
    return failed


def write_grades(
    api: NbGraderAPI,
    assignment: str,
    notebook: str,
    grades: Mapping[str, Mapping[str, CellGrade]],
) -> dict[str, str]:
    """Set each grade cell's manual score and comment; returns students left out, why."""
    skipped = {}
    with api.gradebook as gb:
        for student, cells in grades.items():
            try:
                for cell, grade in cells.items():
                    row = gb.find_grade(cell, notebook, assignment, student)
                    row.manual_score = grade.score
                    comment = gb.find_comment(cell, notebook, assignment, student)
                    comment.manual_comment = grade.comment
                    row.needs_manual_grade = False
            except MissingEntry as exc:
                gb.db.rollback()
                skipped[student] = f"not in nbgrader's gradebook ({exc}); autograde it first"
                continue
            gb.db.commit()
    return skipped


def release_feedback(api: NbGraderAPI, assignment: str, students: Iterable[str]) -> dict[str, str]:
    """generate_feedback + release_feedback per student; returns failures, per student."""
    failed = {}
    for student in sorted(students):
        for step, call in (
            ("generate_feedback", api.generate_feedback),
            ("release_feedback", api.release_feedback),
        ):
            result = call(assignment, student)
            if not result.get("success"):
                failed[student] = f"{step}: " + str(result.get("error") or result.get("log"))[-500:]
                break
    return failed
