"""A review round's anonymized packets kept by the service exchange: when the instructor's
server has no folder in common with the service, ``nbcohort review open`` uploads each packet
(``exchange.publish`` kind ``packet``, staff only) and the service reads a reviewer's packet
from here (``review_packets``: only the reviewer's own live allocation). A packet is keyed by
the folder name ``Allocation.packet`` ends with, unique in the cohort.

A round that fails to open after some of its packets are uploaded withdraws them
(``withdraw_packet``): a packet no round's allocation names is removed, row and archive, so
a failed open leaves nothing half-written on the service. A packet a round uses stays."""

from __future__ import annotations

import re
import tarfile
from pathlib import PurePosixPath

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Allocation, Cohort, ExchangeFile, ReviewRound
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Conflict, Invalid, NotFound
from nbcohort.cohorts.services.exchange_blobs import BlobStore

__all__ = ["check_packet", "packet_archive_files", "packet_key", "withdraw_packet"]

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,159}")


def packet_key(key: str) -> tuple[str, str]:
    """``<assignment>/<packet>`` split in two; a packet name that could be a path refused."""
    assignment, _sep, code = key.partition("/")
    if not _CODE.fullmatch(code) or ".." in code:
        raise Invalid(
            f"{code[:100]!r} is not a packet name (up to 160 letters, digits and . _ -, "
            "starting with a letter or digit)",
            field="packet",
        )
    return assignment, code


def _row(session: Session, cohort: Cohort, code: str) -> ExchangeFile | None:
    return session.scalar(
        select(ExchangeFile).where(
            ExchangeFile.cohort_id == cohort.id,
            ExchangeFile.kind == "packet",
            ExchangeFile.packet == code,
        )
    )


def check_packet(session: Session, cohort: Cohort, key: str) -> None:
    """Refuse a second upload of the same packet: a packet never changes once a round has it."""
    _assignment, code = packet_key(key)
    if _row(session, cohort, code) is not None:
        raise Conflict(f"packet {code!r} is already uploaded", field="packet")


def packet_archive_files(
    session: Session, cohort: Cohort, assignment: str, packet: str, blobs: BlobStore | None
) -> dict[str, bytes]:
    """The files of an uploaded packet (relative name -> bytes), read from its archive in
    ``blobs`` (vetted on upload: plain files and folders only). Authorization is the
    caller's (``review_packets.packet_files``)."""
    code = PurePosixPath(packet).name
    row = _row(session, cohort, code)
    missing = NotFound(f"packet {code} is missing on the server; tell your facilitator")
    if row is None or row.assignment != assignment or blobs is None:
        raise missing
    files: dict[str, bytes] = {}
    try:
        kept = blobs.open(session, row.blob)
    except NotFound:
        raise missing from None
    with kept, tarfile.open(fileobj=kept, mode="r:") as tar:
        for member in tar:
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is not None:
                with handle:
                    files[str(PurePosixPath(member.name))] = handle.read()
    return files


def withdraw_packet(
    session: Session, actor: Actor, cohort: Cohort, key: str, blobs: BlobStore
) -> str | None:
    """Remove the uploaded packet ``<assignment>/<packet>`` that no round uses (staff only):
    what an open that failed after uploading it calls. Its row and archive go in this unit;
    returns the archive's blob name for the caller to ``blobs.forget`` once this unit
    commits; None when there is no such packet (already withdrawn: withdrawing again is no
    error). A packet a round's allocation names is a Conflict: it is a live round's, not a
    failed open's."""
    require(actor, "exchange.manage", cohort.id)
    assignment, code = packet_key(key)
    row = _row(session, cohort, code)
    if row is None or row.assignment != assignment:
        return None
    used = session.scalar(
        select(Allocation.id)
        .join(ReviewRound, Allocation.round_id == ReviewRound.id)
        .where(
            ReviewRound.cohort_id == cohort.id,
            or_(Allocation.packet == code, Allocation.packet.like(f"%/{code}")),
        )
        .limit(1)
    )
    if used is not None:
        raise Conflict(f"packet {code!r} belongs to an open review round", field="packet")
    blobs.delete(session, row.blob)
    session.delete(row)
    return row.blob
