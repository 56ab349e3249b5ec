"""The files of a packet as its reviewer downloads them: only their own, only while the
allocation is live. A round opened through the service exchange (``settings["packets"] ==
"exchange"``) has its packets in the service's exchange store; any other, in its folder."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Allocation, Cohort, ReviewRound
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import NotFound
from nbcohort.cohorts.services.exchange_blobs import BlobStore
from nbcohort.cohorts.services.exchange_packets import packet_archive_files
from nbcohort.cohorts.services.reviews import LIVE

__all__ = ["packet_files"]

_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def _regular(path: Path) -> bytes | None:
    """The bytes of ``path`` if it is a regular file itself; None for a link (to another
    learner's work, or out of the round), a folder, a pipe. Opened without following a link,
    so a file swapped for one after the listing is not followed either."""
    try:
        fd = os.open(path, _READ)
    except OSError:  # a link (ELOOP), gone, or not readable: not part of the packet
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read()


def packet_files(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    allocation_id: int,
    *,
    assignment: str | None = None,
    blobs: BlobStore | None = None,
) -> dict[str, bytes]:
    """The files of the packet assigned to this reviewer (only theirs, only while live);
    ``blobs``: the service's exchange archives, where uploaded packets are."""
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
    if rnd.settings.get("packets") == "exchange":
        return packet_archive_files(session, cohort, rnd.assignment, alloc.packet, blobs)
    root = Path(rnd.folder) / alloc.packet
    files = {}
    for path in sorted(root.rglob("*")):
        folders = path.relative_to(root).parents
        if any((root / folder).is_symlink() for folder in folders if folder.name):
            continue  # below a linked folder (rglob may follow one): not the packet's
        content = _regular(path)
        if content is not None:
            files[path.relative_to(root).as_posix()] = content
    if not files:
        raise NotFound(f"packet {alloc.packet} is missing on the server; tell your facilitator")
    return files
