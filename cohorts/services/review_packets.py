"""The files of a packet as its reviewer downloads them: only their own, only while the
allocation is live."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Allocation, Cohort, ReviewRound
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import NotFound
from nbcohort.cohorts.services.reviews import LIVE

__all__ = ["packet_files"]


def packet_files(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    allocation_id: int,
    *,
    assignment: str | None = None,
) -> dict[str, bytes]:
    """The files of the packet assigned to this reviewer (only theirs, only while live)."""
    require(actor, "review.take", cohort.id)
    alloc = session.get(Allocation, allocation_id)
    rnd = session.get(ReviewRound, alloc.round_id) if alloc else None
    if (
        alloc is None
        or rnd is None
        or rnd.cohort_id != cohort.id
        or alloc.reviewer_id != actor.member_id
        or alloc.status not in LIVE
        or (assignment is not None and rnd.assignment != assignment)
    ):
        raise NotFound(f"no packet {allocation_id} assigned to you", field="allocation_id")
    root = Path(rnd.folder) / alloc.packet
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        files[path.relative_to(root).as_posix()] = path.read_bytes()
    if not files:
        raise NotFound(f"packet {alloc.packet} is missing on the server; tell your facilitator")
    return files
