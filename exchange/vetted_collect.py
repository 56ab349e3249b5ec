"""nbgrader's collect, safe against what learners can put in the exchange's inbound folder.

``VettedCollect`` is nbgrader's own ``ExchangeCollect``: nbgrader still picks each student's
record and decides whether to copy it. It changes three things:

- after ``init_src`` chose the records, each one is vetted: a username that could become a
  path (``..``, ``/``, glob or control characters) and a submission ``learner_files.inspect``
  refuses (links, hard links, FIFOs, devices...) are dropped with their reason, before
  nbgrader's copy (which would delete an older collected copy first) sees them;
- ``do_copy`` is ``learner_files.copy_tree``: no link followed, nbgrader's ignore, include,
  max_file_size and max_dir_size rules kept, and the folder appears whole or not at all;
- records are copied one at a time, so a failure is one learner's reason, not collect's end.

``Collection`` records what the run did to ``course/submitted/``: the folders it wrote and
the copies those replaced, set aside until the round keeps them. A round that leaves a learner
out, or fails, puts the course back as it found it; a run killed outright leaves set-aside
copies and partial folders under dot-names that ``recover`` restores or removes next time.
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from nbgrader.exchange.default.collect import ExchangeCollect

from nbcohort.exchange.learner_files import (
    CopyRules,
    Refused,
    copy_tree,
    inspect,
    read_file,
    shown,
)

__all__ = [
    "Collected",
    "Collection",
    "VettedCollect",
    "put_back",
    "recover",
    "set_aside",
    "username_problem",
]

_USERNAME = re.compile(r"\w[\w.@+-]{0,99}")
_UNREADABLE = "\0unreadable:"  # never a username: marks an inbound name nbgrader cannot parse


def username_problem(name: str) -> str | None:
    """Why ``name`` (parsed from an inbound folder's name) must not become a path, or None."""
    if _USERNAME.fullmatch(name):
        return None
    return (
        f"'{shown(name)}' is not a username nbcohort collects (up to 100 letters, digits "
        "and . _ @ + -, starting with a letter or digit)"
    )


@dataclass(frozen=True)
class Collected:
    student: str
    folder: Path
    timestamp: datetime | None


@dataclass
class Collection:
    """One collect run: the submissions it found, the learners it refused (shown name ->
    reason), and per student the folder it wrote and the earlier copy it set aside."""

    assignment: str
    submissions: dict[str, Collected] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    written: dict[str, Path] = field(default_factory=dict)
    aside: dict[str, Path] = field(default_factory=dict)

    def drop(self, student: str) -> None:
        """Undo this run's collect of ``student``: its copy removed, the one it replaced
        put back. Nothing happens for a student this run did not copy."""
        self.submissions.pop(student, None)
        dest = self.written.pop(student, None)
        if dest is not None:
            shutil.rmtree(dest, ignore_errors=True)
        previous = self.aside.pop(student, None)
        if previous is not None:
            put_back(previous)
        elif dest is not None and dest.parent.is_dir() and not any(dest.parent.iterdir()):
            dest.parent.rmdir()  # the student's folder nbgrader made for this copy

    def undo(self) -> None:
        """Put ``course/submitted/`` back as this run found it."""
        for student in sorted(set(self.written) | set(self.aside)):
            self.drop(student)

    def keep(self) -> None:
        """The round stands: the copies this run replaced are deleted."""
        for previous in self.aside.values():
            shutil.rmtree(previous, ignore_errors=True)
        self.aside.clear()


def set_aside(dest: Path) -> Path | None:
    """Move an earlier collected copy aside, leaving a folder with only its timestamp.txt so
    that nbgrader decides to update it or not exactly as it would have."""
    if not dest.is_dir() or dest.is_symlink():
        return None
    aside = dest.with_name(f".{dest.name}.previous")
    os.rename(dest, aside)
    dest.mkdir()
    with suppress(Refused):  # none, or not a file: nbgrader finds none either way
        (dest / "timestamp.txt").write_bytes(read_file(aside / "timestamp.txt"))
    return aside


def put_back(aside: Path) -> None:
    """Return a submission ``set_aside`` moved out of the way to its place (a collect that
    failed, or a killed run being recovered)."""
    dest = aside.with_name(aside.name[1 : -len(".previous")])
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(aside, dest)


def recover(submitted: Path, assignment: str) -> None:
    """Finish what a killed run left under ``submitted``: set-aside copies go back in
    place, partial copies are removed."""
    for aside in submitted.glob(f"*/.{assignment}.previous"):
        put_back(aside)
    for partial in submitted.glob(f"*/.{assignment}.*.partial"):
        shutil.rmtree(partial, ignore_errors=True)


class VettedCollect(ExchangeCollect):
    """nbgrader's collect that vets each chosen submission and never follows a link."""

    collection: Collection  # set by whoever starts it: where refusals and writes go
    src_records: list[dict[str, Any]]
    _copied: bool

    def _path_to_record(self, path: str) -> dict[str, Any]:
        """nbgrader's parse of an inbound name; a name it cannot parse (any learner can
        create one) becomes a record that vetting refuses, not the end of collect."""
        try:
            return dict(super()._path_to_record(path))
        except Exception:
            name = os.path.basename(path)
            return {"username": _UNREADABLE + name, "filename": name, "timestamp": datetime.min}

    def init_src(self) -> None:
        super().init_src()
        kept = []
        for rec in self.src_records:
            name, why = self._vet(rec)
            if why:
                self.collection.refused[shown(name)] = why
            else:
                kept.append(rec)
        self.src_records = kept

    def _vet(self, rec: dict[str, Any]) -> tuple[str, str | None]:
        name, filename = rec["username"], rec["filename"]
        if name.startswith(_UNREADABLE):  # keyed by the folder: any learner can name one so
            return filename, "no timestamp nbgrader can read in the folder's name; not collected"
        problem = username_problem(name)
        if problem:
            return name, problem
        try:
            inspect(Path(self.inbound_path, filename))
        except Refused as exc:
            return name, str(exc)
        return name, None

    def copy_files(self) -> None:
        chosen = self.src_records
        try:
            for rec in chosen:
                self.src_records = [rec]
                self._copy_one(rec["username"])
        finally:
            self.src_records = chosen

    def _copy_one(self, student: str) -> None:
        """nbgrader's own copy_files for one record, the earlier copy kept aside until
        the round keeps or undoes this run."""
        cd = self.coursedir
        dest = Path(cd.format_path(cd.submitted_directory, student, cd.assignment_id))
        had_folder = dest.parent.exists()
        aside = set_aside(dest)
        if aside is not None:
            self.collection.aside[student] = aside
        self._copied = False
        try:
            super().copy_files()
        except Exception as exc:
            why = str(exc) if isinstance(exc, Refused) else f"not collected: {shown(str(exc))}"
            self.collection.refused[student] = why
        finally:
            if self._copied:
                self.collection.written[student] = dest
        if not self._copied and aside is not None:
            del self.collection.aside[student]
            put_back(aside)
        elif not self._copied and not had_folder and dest.parent.is_dir():
            shutil.rmtree(dest.parent)  # the empty folder nbgrader made for this student

    def do_copy(self, src: str, dest: str, log: Any = None) -> None:
        cd = self.coursedir
        rules = CopyRules(
            ignore=tuple(cd.ignore),
            include=tuple(cd.include),
            max_file_size=cd.max_file_size,
            max_dir_size=cd.max_dir_size,
            groupshared=cd.groupshared,
        )
        copy_tree(Path(src), Path(dest), rules)
        self._copied = True
