"""A member's submissions to the nbgrader exchange and the feedback on them, in their export:
their own work, byte for byte as the service keeps it, under names the service chose
(``exchange/<id>.tar``), never names from the archive or the learner."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from nbcohort.cohorts.models import ExchangeFile, Member

__all__ = ["EXCHANGE_README", "exchange_bytes", "export_exchange"]

EXCHANGE_README = (
    "exchange.json       your submissions to the course's exchange and the feedback on them;\n"
    "                    the archives themselves in exchange/<id>.tar\n"
)
_FB = "feedback"
_BLOB = re.compile(r"[0-9a-f]{32}\.tar")  # the only names the service gives its archives


class _Zip(Protocol):
    def add_file(self, name: str, path: Path, size: int) -> None: ...
    def json(self, name: str, value: Any) -> None: ...


def _mine(member: Member) -> Any:
    return (
        ExchangeFile.cohort_id == member.cohort_id,
        ExchangeFile.member_id == member.id,
        ExchangeFile.kind.in_(("submission", "feedback")),
    )


def exchange_bytes(session: Session, member: Member) -> int:
    """What the member's archives add to an export, before anything is written."""
    total = session.scalar(
        select(func.coalesce(func.sum(ExchangeFile.size), 0)).where(*_mine(member))
    )
    return int(total or 0)


def export_exchange(session: Session, member: Member, z: _Zip, root: Path) -> int:
    """Write ``exchange.json`` and each archive the service still has; returns how many
    submissions were listed. An archive missing from ``root`` is listed as missing."""
    feedback = aliased(ExchangeFile)
    rows = session.execute(
        select(ExchangeFile, feedback)
        .outerjoin(
            feedback, (feedback.submission_id == ExchangeFile.id) & (feedback.kind == "feedback")
        )
        .where(*_mine(member), ExchangeFile.kind == "submission")
        .order_by(ExchangeFile.created_at, ExchangeFile.id, feedback.created_at)
    ).all()
    listed: dict[int, dict[str, Any]] = {}
    for sub, fb in rows:
        item = listed.get(sub.id)
        if item is None:
            item = listed[sub.id] = {
                "assignment": sub.assignment,
                "submitted_at": sub.created_at.isoformat(),
                "notebooks": list(sub.notebooks),
                "size": sub.size,
                "sha256": sub.sha256,
                "file": _copy(z, root, sub),
                "feedback": [],
            }
        if fb is not None:
            item["feedback"].append(
                {
                    "released_at": fb.created_at.isoformat(),
                    "size": fb.size,
                    "sha256": fb.sha256,
                    "file": _copy(z, root, fb),
                }
            )
    z.json("exchange.json", list(listed.values()))
    return len(listed)


def _copy(z: _Zip, root: Path, row: ExchangeFile) -> str | None:
    """Add one archive as ``exchange/<id>.tar``; None if the service no longer has it (or
    its name is not one the service gives, or it is not a plain file: never followed)."""
    if not _BLOB.fullmatch(row.blob):
        return None
    path = root / "blobs" / row.blob
    try:
        if not os.path.isfile(path) or os.path.islink(path):
            return None
    except OSError:
        return None
    name = f"exchange/{row.id}.tar"
    z.add_file(name, path, row.size)
    return name


def copy_into(out: Any, path: Path) -> None:
    """Stream ``path`` into ``out`` without following a link at its last part."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as src:
        shutil.copyfileobj(src, out, 1024 * 1024)
