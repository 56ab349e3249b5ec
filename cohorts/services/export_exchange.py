"""A member's submissions to the nbgrader exchange and the feedback on them, in their export:
their own work, byte for byte as the service keeps it, under names the service chose
(``exchange/<id>.tar``), never names from the archive or the learner."""

from __future__ import annotations

from typing import Any, BinaryIO, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from nbcohort.cohorts.models import ExchangeFile, Member
from nbcohort.cohorts.services.errors import NotFound
from nbcohort.cohorts.services.exchange_blobs import BlobStore

__all__ = ["EXCHANGE_README", "exchange_bytes", "export_exchange"]

EXCHANGE_README = (
    "exchange.json       your submissions to the course's exchange and the feedback on them;\n"
    "                    the archives themselves in exchange/<id>.tar\n"
)
_FB = "feedback"


class _Zip(Protocol):
    def add_stream(self, name: str, src: BinaryIO, size: int) -> None: ...
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


def export_exchange(session: Session, member: Member, z: _Zip, blobs: BlobStore) -> int:
    """Write ``exchange.json`` and each archive the service still has in ``blobs``; returns
    how many submissions were listed. An archive missing there is listed as missing."""
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
                "file": _copy(z, blobs, session, sub),
                "feedback": [],
            }
        if fb is not None:
            item["feedback"].append(
                {
                    "released_at": fb.created_at.isoformat(),
                    "size": fb.size,
                    "sha256": fb.sha256,
                    "file": _copy(z, blobs, session, fb),
                }
            )
    z.json("exchange.json", list(listed.values()))
    return len(listed)


def _copy(z: _Zip, blobs: BlobStore, session: Session, row: ExchangeFile) -> str | None:
    """Add one archive as ``exchange/<id>.tar``, streamed; None if the service no longer has
    it (a folder's file that is gone, a link or not named as the service names them: never
    followed)."""
    try:
        kept = blobs.open(session, row.blob)
    except NotFound:
        return None
    name = f"exchange/{row.id}.tar"
    with kept:
        z.add_stream(name, kept, row.size)
    return name
