"""The instructor's side of the service exchange: release an assignment, collect
submissions into ``course/submitted/`` and release feedback, as nbgrader's default classes
do with a shared folder (same course folders, same timestamp.txt, same --update and
--before-duedate rules), through the nbcohort service."""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.exchange.abc import (
    ExchangeCollect,
    ExchangeReleaseAssignment,
    ExchangeReleaseFeedback,
)
from nbgrader.utils import parse_utc

from nbcohort.cohorts.services.errors import Invalid
from nbcohort.cohorts.services.exchange_archive import extract_archive, pack_folder
from nbcohort.exchange.learner_files import Refused, inspect
from nbcohort.exchange.service_exchange._http import DamagedArchive, ServiceExchange

__all__ = ["ServiceCollect", "ServiceReleaseAssignment", "ServiceReleaseFeedback"]


class ServiceReleaseAssignment(ServiceExchange, ExchangeReleaseAssignment):
    """``nbgrader release_assignment``: the course's release folder, sent as one archive."""

    def init_src(self) -> None:
        cd = self.coursedir
        self.src_path = cd.format_path(cd.release_directory, ".", cd.assignment_id)
        if not os.path.isdir(self.src_path):
            source = cd.format_path(cd.source_directory, ".", cd.assignment_id)
            if os.path.isdir(source):
                self.fail(
                    f"Assignment found in '{source}' but not '{self.src_path}', run "
                    "`nbgrader generate_assignment` first."
                )
            self.fail(f"Assignment not found: {self.src_path}")

    def init_dest(self) -> None:
        if not self.coursedir.course_id:
            self.fail("No course id specified. Re-run with --course flag.")

    def copy_files(self) -> None:
        cd = self.coursedir
        with tempfile.TemporaryDirectory(prefix="nbcohort-release-") as tmp:
            archive = Path(tmp) / "release.tar"
            self.pack(Path(self.src_path), archive)
            params = {"force": "true"} if self.force else {}
            self.upload("PUT", f"/releases/{self.quoted(cd.assignment_id)}", archive, **params)
        self.log.info("Released as: %s %s", cd.course_id, cd.assignment_id)


class ServiceCollect(ServiceExchange, ExchangeCollect):
    """``nbgrader collect``: each learner's latest submission (or the latest before the due
    date), unpacked from a vetted archive and checked again before it lands in
    ``course/submitted/<student>/<assignment>/`` with the service's timestamp."""

    def init_src(self) -> None:
        cd = self.coursedir
        found = self.json(
            "/submissions", assignment=cd.assignment_id, student=self.student_filter()
        )
        by_student: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for sub in found["submissions"]:
            sub["when"] = parse_utc(self.stamp(sub["timestamp"]))
            by_student[sub["student"]].append(sub)
        with Gradebook(cd.db_url, cd.course_id) as gb:
            try:
                self.duedate = gb.find_assignment(cd.assignment_id).duedate
            except MissingEntry:
                self.duedate = None
        self.src_records = []
        for subs in by_student.values():
            subs.sort(key=lambda s: (s["when"], s["id"]), reverse=True)
            chosen = subs[0]
            if self.duedate is not None and self.before_duedate:
                early = [s for s in subs if s["when"] <= self.duedate]
                chosen = early[0] if early else subs[0]
            self.src_records.append(chosen)

    def init_dest(self) -> None:
        pass

    def copy_files(self) -> None:
        cd = self.coursedir
        if not self.src_records:
            self.log.warning(
                "No submissions of '%s' for course '%s' to collect", cd.assignment_id, cd.course_id
            )
        for rec in self.src_records:
            student = rec["student"]
            if not _one_folder_name(student):
                self.refused(student, rec["id"], "the learner's name is not a folder name")
                continue
            dest = Path(cd.format_path(cd.submitted_directory, student, cd.assignment_id))
            if dest.is_dir():
                existing = cd.get_existing_timestamp(str(dest))
                newer = existing is None or rec["when"] > existing
                if not (
                    (self.update and newer) or (self.before_duedate and existing != rec["when"])
                ):
                    self.log.info(
                        "No newer submission to collect: %s %s", student, cd.assignment_id
                    )
                    continue
            self._collect_one(rec, dest)

    def _collect_one(self, rec: dict[str, Any], dest: Path) -> bool:
        """Collect one record into ``dest``; False (and ``refused`` told) if it is refused."""
        student = rec["student"]
        self.log.info("Collecting submission: %s %s", student, self.coursedir.assignment_id)
        try:
            with self.download(f"/submissions/{rec['id']}") as (archive, _meta):
                self._unpack(rec, archive, dest)
        except (DamagedArchive, Invalid, Refused, OSError) as exc:  # this learner's alone
            self.refused(student, rec["id"], str(exc))
            return False
        return True

    def _unpack(self, rec: dict[str, Any], archive: Path, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        unpacked = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        try:
            extract_archive(archive, unpacked / "files")
            inspect(unpacked / "files")  # no link, device or hard link, whatever came
            (unpacked / "files" / "timestamp.txt").write_text(self.stamp(rec["timestamp"]))
            if dest.exists():
                shutil.rmtree(dest)
            os.rename(unpacked / "files", dest)
        finally:
            shutil.rmtree(unpacked, ignore_errors=True)

    def refused(self, student: str, sub_id: int, why: str) -> None:
        """A submission's archive refused: logged; a review round also records the reason."""
        self.log.error("Not collected: %s %s: %s", student, sub_id, why)


def _one_folder_name(name: object) -> bool:
    """Whether ``name`` is one safe folder name (a learner's folder under ``submitted``)."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and "/" not in name
        and "\\" not in name
        and name.isprintable()
    )


class ServiceReleaseFeedback(ServiceExchange, ExchangeReleaseFeedback):
    """``nbgrader release_feedback``: each learner's generated feedback, attached to the
    submission it was generated from (matched by its timestamp.txt)."""

    def init_src(self) -> None:
        cd = self.coursedir
        student = self.student_filter() or "*"
        self.src_path = cd.format_path(cd.feedback_directory, student, cd.assignment_id)

    def init_dest(self) -> None:
        if not self.coursedir.course_id:
            self.fail("No course id specified. Re-run with --course flag.")

    def copy_files(self) -> None:
        cd = self.coursedir
        exclude = set(filter(None, cd.student_id_exclude.split(",")))
        subs = self.json("/submissions", assignment=cd.assignment_id)["submissions"]
        for folder in sorted(glob.glob(self.src_path)):
            student = Path(folder).parent.name
            if student in exclude or not os.path.isfile(os.path.join(folder, "timestamp.txt")):
                continue
            when = parse_utc(Path(folder, "timestamp.txt").read_text())
            match = [
                s for s in subs
                if s["student"] == student and parse_utc(self.stamp(s["timestamp"])) == when
            ]  # fmt: skip
            if not match:
                self.log.warning("No submission of %s at %s in the exchange", student, when)
                continue
            with tempfile.TemporaryDirectory(prefix="nbcohort-feedback-") as tmp:
                html = Path(tmp, "html")
                html.mkdir()
                for page in sorted(glob.glob(os.path.join(folder, "*.html"))):
                    shutil.copy(page, html / os.path.basename(page))
                archive = Path(tmp) / "feedback.tar"
                pack_folder(html, archive)
                self.upload("PUT", f"/submissions/{match[-1]['id']}/feedback", archive)
            self.log.info("Releasing feedback for student '%s' on '%s'", student, cd.assignment_id)
