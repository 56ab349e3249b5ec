"""The learner's side of the service exchange: fetch a released assignment, submit it and
fetch the feedback on it, into the same folders nbgrader's default classes use
(``<assignment_dir>/<assignment>/`` and its ``feedback/<timestamp>/``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from nbgrader.exchange.abc import ExchangeFetchAssignment, ExchangeFetchFeedback, ExchangeSubmit

from nbcohort.cohorts.services.exchange_archive import extract_archive
from nbcohort.exchange.service_exchange._http import ServiceExchange

__all__ = ["ServiceFetchAssignment", "ServiceFetchFeedback", "ServiceSubmit"]


def _local(exchange: ServiceExchange, assignment: str) -> Path:
    """The learner's folder of ``assignment``, as nbgrader's default exchange names it."""
    cd = exchange.coursedir
    root = os.path.join(cd.course_id, assignment) if exchange.path_includes_course else assignment
    return Path(exchange.assignment_dir, root).absolute()


def _copy_missing(src: Path, dest: Path) -> None:
    for item in sorted(src.iterdir()):
        target = dest / item.name
        if item.is_dir():
            target.mkdir(exist_ok=True)
            _copy_missing(item, target)
        elif not target.exists():
            shutil.copy(item, target)


class ServiceFetchAssignment(ServiceExchange, ExchangeFetchAssignment):
    """``nbgrader fetch_assignment``: the released archive, unpacked whole or not at all."""

    def init_src(self) -> None:
        self.src_path = f"/releases/{self.quoted(self.coursedir.assignment_id)}"

    def init_dest(self) -> None:
        self.dest_path = _local(self, self.coursedir.assignment_id)
        if self.dest_path.is_dir() and not self.replace_missing_files:
            self.fail(
                "You already have a copy of the assignment in this directory: "
                f"{self.coursedir.assignment_id}"
            )

    def copy_files(self) -> None:
        with self.download(self.src_path) as (archive, _meta):
            if not self.dest_path.is_dir():
                extract_archive(archive, self.dest_path)
            else:
                with tempfile.TemporaryDirectory(dir=self.dest_path.parent) as tmp:
                    extract_archive(archive, Path(tmp) / "release")
                    _copy_missing(Path(tmp) / "release", self.dest_path)
        self.log.info("Fetched as: %s %s", self.coursedir.course_id, self.coursedir.assignment_id)


class ServiceSubmit(ServiceExchange, ExchangeSubmit):
    """``nbgrader submit``: the learner's folder as one archive; the service's clock gives
    the submission its time."""

    def init_src(self) -> None:
        self.src_path = _local(self, self.coursedir.assignment_id)
        if not self.src_path.is_dir():
            self.fail(f"Assignment not found: {self.src_path}")

    def init_dest(self) -> None:
        releases = self.json("/releases")["releases"]
        released = [r for r in releases if r["assignment"] == self.coursedir.assignment_id]
        if not released:
            self.fail(f"Assignment not found: {self.coursedir.assignment_id} is not released")
        self.released_notebooks = set(released[0]["notebooks"])

    def copy_files(self) -> None:
        cd = self.coursedir
        mine = {p.stem for p in self.src_path.glob("*.ipynb")}
        missing = sorted(self.released_notebooks - mine)
        if missing and self.strict:
            self.fail(
                f"Assignment {cd.assignment_id} not submitted. There are missing notebooks "
                f"for the submission: {', '.join(missing)}"
            )
        if missing or mine - self.released_notebooks:
            self.log.warning("Possible missing notebooks and/or extra notebooks submitted")
        with tempfile.TemporaryDirectory(prefix="nbcohort-submit-") as tmp:
            archive = Path(tmp) / "submission.tar"
            self.pack(self.src_path, archive)
            sent = self.upload(
                "POST", f"/assignments/{self.quoted(cd.assignment_id)}/submissions", archive
            )
        self.timestamp = self.stamp(sent["timestamp"])
        self.log.info("Submitted as: %s %s %s", cd.course_id, cd.assignment_id, self.timestamp)


class ServiceFetchFeedback(ServiceExchange, ExchangeFetchFeedback):
    """``nbgrader fetch_feedback``: the feedback on each of the learner's submissions, into
    ``<assignment>/feedback/<timestamp>/``."""

    def init_src(self) -> None:
        subs = self.json("/submissions", assignment=self.coursedir.assignment_id)["submissions"]
        self.with_feedback = [s for s in subs if s["feedback"]]

    def init_dest(self) -> None:
        pass

    def copy_files(self) -> None:
        for sub in self.with_feedback:
            dest = _local(self, sub["assignment"]) / "feedback" / self.stamp(sub["timestamp"])
            with (
                self.download(f"/submissions/{sub['id']}/feedback") as (archive, _meta),
                tempfile.TemporaryDirectory(prefix="nbcohort-feedback-") as tmp,
            ):
                extract_archive(archive, Path(tmp) / "html")
                dest.mkdir(parents=True, exist_ok=True)
                for page in sorted(Path(tmp, "html").glob("*.html")):
                    shutil.copy(page, dest / page.name)
                    self.log.info("Fetched feedback: %s", dest / page.name)
