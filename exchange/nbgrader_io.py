"""What a review round asks of nbgrader, in-process through its API: collect the latest
submissions (through ``VettedCollect``, which never follows a learner's link, or with the
service exchange configured through the service: ``round_exchange``), make sure they
are autograded, write peer scores and comments into the gradebook, and generate and release
feedback."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from functools import partial
from pathlib import Path

from nbgrader.api import MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import capture_log, temp_attrs
from traitlets.config import Config

from nbcohort.exchange.learner_files import shown
from nbcohort.exchange.round_exchange import RoundServiceCollect, uses_service
from nbcohort.exchange.vetted_collect import (
    Collected,
    Collection,
    VettedCollect,
    recover,
    username_problem,
)

__all__ = [
    "CellGrade",
    "Collected",
    "Collection",
    "NbGraderError",
    "autograde",
    "collect",
    "ensure_exchange_root",
    "nbgrader_api",
    "put_alembic_on_path",
    "release_feedback",
    "write_grades",
]


class NbGraderError(RuntimeError):
    """nbgrader refused a step; the message carries the end of nbgrader's own log."""


@dataclass(frozen=True)
class CellGrade:
    """A peer score for one nbgrader grade cell, with the comment the author will read."""

    score: float
    comment: str


def put_alembic_on_path() -> None:
    """nbgrader creates its gradebook by running the ``alembic`` command: make sure the one
    installed beside this interpreter is found even when the venv is not activated."""
    here = os.path.dirname(sys.executable)
    if shutil.which("alembic") is None and os.path.exists(os.path.join(here, "alembic")):
        os.environ["PATH"] = here + os.pathsep + os.environ.get("PATH", "")


def ensure_exchange_root(config: Config) -> None:
    """Create nbgrader's exchange root before nbgrader first looks at it (it reports a missing
    root as CRITICAL), with the mode ``nbgrader release_assignment`` gives it, so nbgrader
    never changes it later."""
    from nbgrader.exchange.default.exchange import Exchange

    root = Path(Exchange(config=config).root)
    if root.is_dir():
        return
    groupshared = CourseDirectory(config=config).groupshared
    try:
        root.mkdir(parents=True)
        root.chmod(0o2777 if groupshared else 0o777)  # as nbgrader's ensure_root expects
    except OSError as exc:
        raise NbGraderError(
            f"cannot create nbgrader's exchange folder {root}: {exc.strerror} "
            "(set c.Exchange.root in jupyter_config.py)"
        ) from None


def nbgrader_api(config: Config) -> NbGraderAPI:
    """nbgrader's API in-process, on this course's config, logging warnings and worse."""
    put_alembic_on_path()
    if not uses_service(config):  # the service exchange has no folder here
        ensure_exchange_root(config)
    coursedir = CourseDirectory(config=config)
    api = NbGraderAPI(coursedir=coursedir, config=config)
    api.log.setLevel(logging.WARNING)
    return api


def collect(api: NbGraderAPI, assignment: str) -> Collection:
    """``nbgrader collect --update`` in-process, through ``VettedCollect`` (or the service
    exchange's collect when nbgrader is configured with it); then every
    student's collected submission folder, except those refused this time (their reasons
    are in ``refused``). If collect fails or is interrupted, ``course/submitted/`` is put
    back as it was found; what a killed run left there is recovered first."""
    coursedir = api.coursedir
    root = Path(coursedir.root) / coursedir.submitted_directory
    recover(root, assignment)
    run = Collection(assignment)
    kind = RoundServiceCollect if uses_service(api.config) else VettedCollect
    app = kind(coursedir=coursedir, authenticator=api.authenticator, parent=api)
    app.update = True
    app.collection = run
    before, coursedir.assignment_id = coursedir.assignment_id, assignment
    try:
        app.start()
    except Exception as exc:
        run.undo()
        raise NbGraderError(f"nbgrader collect {assignment} failed: {exc}") from exc
    except BaseException:
        run.undo()
        raise
    finally:
        coursedir.assignment_id = before
    for folder in sorted(root.glob(f"*/{assignment}")):
        student = folder.parent.name
        if student in run.refused or not folder.is_dir() or folder.is_symlink():
            continue
        if username_problem(student):
            run.refused[shown(student)] = "collected earlier under a name nbcohort does not use"
            continue
        try:
            stamp = coursedir.get_existing_timestamp(str(folder))
        except Exception:  # the learner wrote timestamp.txt too
            run.refused[student] = "timestamp.txt in the submission is not a timestamp"
            run.drop(student)
            continue
        when = stamp.replace(tzinfo=stamp.tzinfo or UTC).astimezone(UTC) if stamp else None
        run.submissions[student] = Collected(student, folder, when)
    return run


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
            ("release_feedback", partial(_release_feedback, api)),
        ):
            result = call(assignment, student)
            if not result.get("success"):
                failed[student] = f"{step}: " + str(result.get("error") or result.get("log"))[-500:]
                break
    return failed


def _release_feedback(api: NbGraderAPI, assignment: str, student: str) -> dict:
    """``NbGraderAPI.release_feedback`` as nbgrader 0.9 means it: that method misspells
    ``authenticator``, so the exchange gets none and traitlets warns that it will soon raise."""
    with temp_attrs(api.coursedir, assignment_id=assignment, student_id=student):
        app = api.exchange.ReleaseFeedback(
            coursedir=api.coursedir, authenticator=api.authenticator, parent=api
        )
        return capture_log(app)
