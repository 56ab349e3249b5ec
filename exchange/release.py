"""Release course notebooks through nbgrader, in-process (a CLI call per assignment pays
nbgrader's whole start-up again), and hand a learner their copy."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from nbcohort.exchange.nbgrader_io import put_alembic_on_path

__all__ = ["ReleaseError", "copy_release", "generate_release"]


class ReleaseError(RuntimeError):
    """nbgrader could not build an assignment; the message carries nbgrader's own log."""


def generate_release(config: Config, assignments: Iterable[str]) -> dict[str, Path]:
    """``nbgrader generate_assignment`` for each assignment; returns each release folder."""
    put_alembic_on_path()
    coursedir = CourseDirectory(config=config)
    api = NbGraderAPI(coursedir=coursedir, config=config)
    out = {}
    for assignment in assignments:
        result = api.generate_assignment(assignment, force=True, create=True)
        if not result.get("success"):
            detail = (result.get("error") or result.get("log") or "").strip()[-2000:]
            raise ReleaseError(f"nbgrader generate_assignment {assignment} failed:\n{detail}")
        out[assignment] = Path(coursedir.format_path(coursedir.release_directory, ".", assignment))
    return out


def copy_release(releases: dict[str, Path], home: Path) -> list[Path]:
    """Give a learner's home a copy of each released assignment it does not have yet."""
    copied = []
    for assignment, folder in releases.items():
        target = home / assignment
        if not target.exists():
            shutil.copytree(folder, target)
            copied.append(target)
    return copied
