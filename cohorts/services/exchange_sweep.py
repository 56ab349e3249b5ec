"""``nbcohort exchange check``: the exchange's archives against its rows.

What a crash can leave behind, and what an operator must hear of:

- an archive file no row names (a service killed between renaming an upload into
  ``blobs/`` and committing its row), and an upload's temporary file in ``tmp/`` (a
  service killed mid-upload): both removed with ``fix``, once older than the grace period,
  so an upload still on its way is never touched;
- a row whose archive is missing (a file removed by hand, a database restored without its
  folder): only reported, by kind, assignment and learner, since nothing can bring it back;
- anything else in those folders (a link, a folder, a name the service would not give): the
  service never made it, so it is reported and left alone, and never followed.

Nothing here opens an archive: names, ``lstat`` and rows only.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort, ExchangeBlobChunk, ExchangeFile, Member
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Forbidden
from nbcohort.cohorts.services.exchange_blobs import NAME, BlobStore, FolderBlobs

__all__ = ["SweepReport", "check_exchange"]

_UPLOAD_PREFIX, _UPLOAD_SUFFIX = "upload-", ".part"  # what an upload's temporary file is named


@dataclass
class SweepReport:
    """What ``check_exchange`` found; ``removed`` only with ``fix``."""

    archives: int = 0  # rows checked
    orphans: list[str] = field(default_factory=list)  # archive files no row names
    stale_uploads: list[str] = field(default_factory=list)  # tmp/upload-*.part files
    young: int = 0  # orphans or uploads inside the grace period: left for now
    missing: list[str] = field(default_factory=list)  # rows whose archive is gone
    strangers: list[str] = field(default_factory=list)  # entries the service never made
    removed: int = 0
    freed_bytes: int = 0

    @property
    def clean(self) -> bool:
        return not (self.orphans or self.stale_uploads or self.missing)

    def lines(self, *, fix: bool) -> list[str]:
        out = [f"{self.archives} archive(s) in the database checked"]
        verb = "removed" if fix else "would be removed (--fix)"
        if self.orphans:
            out.append(f"{len(self.orphans)} archive file(s) no row names: {verb}")
        if self.stale_uploads:
            out.append(f"{len(self.stale_uploads)} unfinished upload(s) in tmp/: {verb}")
        if fix and self.removed:
            out.append(f"freed {self.freed_bytes} bytes")
        if self.young:
            out.append(f"{self.young} recent file(s) left alone: they may be uploads on their way")
        for what in self.missing:
            out.append(f"missing archive: {what}")
        for name in self.strangers:
            out.append(f"not the service's, left alone: {name}")
        if self.clean and not self.strangers:
            out.append("the exchange is consistent")
        return out


def check_exchange(
    session: Session,
    actor: Actor,
    blobs: BlobStore,
    root: Path,
    *,
    grace_seconds: float,
    fix: bool,
) -> SweepReport:
    """Check every archive row against ``blobs``, and (folder store) the folder against the
    rows; with ``fix`` remove orphans and stale uploads older than ``grace_seconds``. The
    exchange serves every cohort of the service: the local administrator's alone."""
    if not actor.is_system:
        raise Forbidden("only the service's administrator checks the whole exchange")
    report = SweepReport()
    names = _rows(session, blobs, report)
    now = time.time()
    if isinstance(blobs, FolderBlobs):
        for entry in _entries(root / "blobs"):
            if entry.name in names:
                continue
            _consider(entry, NAME.fullmatch(entry.name) is not None, report.orphans, report, now,
                      grace_seconds, fix)  # fmt: skip
    for entry in _entries(root / "tmp"):
        ours = entry.name.startswith(_UPLOAD_PREFIX) and entry.name.endswith(_UPLOAD_SUFFIX)
        _consider(entry, ours, report.stale_uploads, report, now, grace_seconds, fix)
    return report


def _rows(session: Session, blobs: BlobStore, report: SweepReport) -> set[str]:
    """Every row's archive name; rows whose archive is missing go in ``report.missing``."""
    rows = session.execute(
        select(ExchangeFile.blob, ExchangeFile.kind, ExchangeFile.assignment, Member.username,
               ExchangeFile.packet, Cohort.slug)
        .join(Cohort, Cohort.id == ExchangeFile.cohort_id)
        .outerjoin(Member, Member.id == ExchangeFile.member_id)
        .order_by(ExchangeFile.id)
    ).all()  # fmt: skip
    report.archives = len(rows)
    present: set[str] | None = None
    if not isinstance(blobs, FolderBlobs):
        present = set(session.scalars(select(ExchangeBlobChunk.blob).distinct()))
    for blob, kind, assignment, username, packet, slug in rows:
        there = blob in present if present is not None else blobs.size(session, blob) is not None
        if not there:
            whose = f" of {username}" if username else (f" packet {packet}" if packet else "")
            report.missing.append(f"{slug}: {kind} {assignment!r}{whose} ({blob})")
    return {blob for blob, *_ in rows}


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: e.name)
    except FileNotFoundError:
        return []


def _consider(
    entry: os.DirEntry[str],
    ours: bool,
    found: list[str],
    report: SweepReport,
    now: float,
    grace_seconds: float,
    fix: bool,
) -> None:
    """An entry no row names: ours and old enough goes (with ``fix``); a stranger stays."""
    try:
        info = entry.stat(follow_symlinks=False)
    except FileNotFoundError:
        return  # published or removed since the folder was listed: nothing to do
    if not ours or not stat.S_ISREG(info.st_mode):
        report.strangers.append(entry.path)
        return
    if now - info.st_mtime < grace_seconds:
        report.young += 1
        return
    found.append(entry.name)
    if fix:
        try:
            os.unlink(entry.path)
        except FileNotFoundError:
            return  # gone meanwhile
        report.removed += 1
        report.freed_bytes += info.st_size
