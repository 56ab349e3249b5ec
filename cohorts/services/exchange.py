"""The nbgrader exchange as a service: released assignments, submissions and feedback kept
by the community service, each an archive with a row in ``exchange_file``, kept in a folder
or in the database (``exchange_blobs.py``, ``ExchangeSettings.store``).

Who may do what is decided here. Staff of a cohort (``exchange.manage``) release an
assignment, list and download every submission, and upload feedback; learners on the roster
(``exchange.submit``) list and fetch what is released, submit, and list and download their
own submissions and the feedback on them. Staff also upload a review round's anonymized
packets (``exchange_packets``), which reviewers read through ``review_packets`` only. The
course id nbgrader names is the cohort's slug; another course is not found, so a member of
another cohort learns nothing of this one.

The service's clock decides every time: a submission's time is when the service published
it, whatever the learner's server's clock says, and a learner's submissions of an
assignment get strictly increasing times (two in the same second are both kept, in order).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort, ExchangeFile, Member, utcnow
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Conflict, Invalid, NotFound
from nbcohort.cohorts.services.exchange_archive import vet_archive
from nbcohort.cohorts.services.exchange_blobs import BlobStore
from nbcohort.cohorts.services.exchange_packets import check_packet, packet_key
from nbcohort.cohorts.services.exchange_quota import SubmissionLimits, check_quota

__all__ = [
    "KINDS",
    "Upload",
    "archive_of",
    "check_course",
    "check_upload",
    "publish",
    "releases",
    "remove_submission",
    "submissions",
]

KINDS = ("release", "submission", "feedback", "packet")
_ID_MAX = 2**31 - 1  # the id column's range: a larger id names nothing
_ASSIGNMENT = re.compile(r"[A-Za-z0-9][\w.-]{0,99}")


@dataclass(frozen=True)
class Upload:
    """An upload streamed to the service's scratch file ``temp``, not yet published."""

    temp: Path
    size: int
    sha256: str
    blob: str  # the archive's name in the blob store once published


def check_course(cohort: Cohort, course: str) -> None:
    """Refuse a course id that is not the cohort's slug (NotFound, naming the right one)."""
    _course(cohort, course)


def _course(cohort: Cohort, course: str) -> None:
    if course != cohort.slug:
        raise NotFound(
            f"no course {course[:100]!r} in your cohort; its exchange course id is "
            f"{cohort.slug!r} (c.CourseDirectory.course_id)",
            field="course",
        )


def _assignment(name: str) -> str:
    if not _ASSIGNMENT.fullmatch(name) or ".." in name:
        raise Invalid(
            f"{name[:100]!r} is not an assignment name (up to 100 letters, digits and . _ -, "
            "starting with a letter or digit)",
            field="assignment",
        )
    return name


def _id(key: str) -> int:
    if not key.isdigit() or len(key) > 18:
        raise Invalid(f"{key[:30]!r} is not a submission id", field="submission")
    return int(key)


def _may(actor: Actor, cohort: Cohort, action: str) -> None:
    require(actor, action, cohort.id)


def _staff(actor: Actor) -> bool:
    return actor.can("exchange.manage")


def _latest_release(session: Session, cohort: Cohort, assignment: str) -> ExchangeFile | None:
    return session.scalar(
        select(ExchangeFile)
        .where(
            ExchangeFile.cohort_id == cohort.id,
            ExchangeFile.kind == "release",
            ExchangeFile.assignment == assignment,
            ExchangeFile.removed_at.is_(None),  # taken back (``unrelease``)
        )
        .order_by(ExchangeFile.created_at.desc(), ExchangeFile.id.desc())
        .limit(1)
    )


def _submission(session: Session, actor: Actor, cohort: Cohort, sub_id: int) -> ExchangeFile:
    """A submission staff may reach, or the learner's own they have not removed."""
    row = session.get(ExchangeFile, sub_id) if 1 <= sub_id <= _ID_MAX else None
    if (
        row is None
        or row.cohort_id != cohort.id
        or row.kind != "submission"
        or not (_staff(actor) or (row.member_id == actor.member_id and row.removed_at is None))
    ):
        whose = "in this cohort" if _staff(actor) else "of yours"
        raise NotFound(f"no submission {sub_id} {whose}", field="submission")
    return row


def check_upload(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    course: str,
    kind: str,
    key: str,
    limits: SubmissionLimits | None = None,
    *,
    incoming: int = 0,
) -> None:
    """Refuse an upload before its body is read: the wrong course, role or name, or a
    learner past their ``limits`` (counting the ``incoming`` bytes its Content-Length
    announces). ``key`` is the assignment (release, submission), the submission id
    (feedback) or ``<assignment>/<packet>`` (packet)."""
    _course(cohort, course)
    if kind == "release":
        _may(actor, cohort, "exchange.manage")
        _assignment(key)
    elif kind == "submission":
        _may(actor, cohort, "exchange.submit")
        if _latest_release(session, cohort, _assignment(key)) is None:
            raise NotFound(f"assignment {key!r} is not released in {course!r}", field="assignment")
        check_quota(session, cohort, actor.member_id, key, limits, incoming)
    elif kind == "feedback":
        _may(actor, cohort, "exchange.manage")
        _submission(session, actor, cohort, _id(key))
    elif kind == "packet":
        _may(actor, cohort, "exchange.manage")
        assignment, _packet = packet_key(key)
        _assignment(assignment)
        check_packet(session, cohort, key)
    else:
        raise NotFound(f"no exchange {kind[:20]!r}")


def _stamp(row: ExchangeFile, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "assignment": row.assignment,
        "student": names.get(row.member_id or 0),
        "timestamp": row.created_at.isoformat(),
        "notebooks": list(row.notebooks),
        "size": row.size,
    }


def publish(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    course: str,
    kind: str,
    key: str,
    upload: Upload,
    blobs: BlobStore,
    *,
    force: bool = False,
    limits: SubmissionLimits | None = None,
) -> dict[str, Any]:
    """Publish ``upload`` as a release, a submission or feedback, in this unit of work: the
    archive is vetted, its row added and the archive put in ``blobs``; the caller calls
    ``blobs.forget(upload.blob)`` if the unit does not commit, and removes ``upload.temp``."""
    check_upload(session, actor, cohort, course, kind, key)
    if upload.temp.exists():
        notebooks = vet_archive(upload.temp)
    else:  # a unit run again (a lost connection) finds the folder's file renamed already
        with blobs.open(session, upload.blob) as kept:
            notebooks = vet_archive(kept)
    now = utcnow()
    row = ExchangeFile(
        cohort_id=cohort.id,
        kind=kind,
        blob=upload.blob,
        size=upload.size,
        sha256=upload.sha256,
        notebooks=notebooks,
        created_by=actor.member_id,
    )
    if kind == "release":
        if _latest_release(session, cohort, key) is not None and not force:
            raise Conflict(
                f"{key!r} is already released in {course!r}; add --force to overwrite",
                field="assignment",
            )
        row.assignment = key
    elif kind == "submission":
        row.assignment, row.member_id = key, actor.member_id
        # One learner's submissions take turns here (a row lock on PostgreSQL; SQLite has one
        # writer), so two at once cannot both pass the quota below.
        # FOR NO KEY UPDATE: this unit's own file row (its member_id) already holds a key-share
        # lock on the member, which FOR UPDATE in the other upload would wait on: a deadlock.
        session.execute(
            select(Member.id).where(Member.id == actor.member_id).with_for_update(key_share=True)
        )
        latest = session.scalar(
            select(ExchangeFile.created_at)
            .where(
                ExchangeFile.cohort_id == cohort.id,
                ExchangeFile.kind == "submission",
                ExchangeFile.member_id == actor.member_id,
                ExchangeFile.assignment == key,
            )
            .order_by(ExchangeFile.created_at.desc())
            .limit(1)
            .with_for_update()
        )
        if latest is not None and now <= latest:  # same instant, or the clock stepped back
            now = latest + timedelta(microseconds=1)
        check_quota(session, cohort, actor.member_id, key, limits, upload.size)
    elif kind == "packet":
        row.assignment, row.packet = packet_key(key)
    else:
        sub = _submission(session, actor, cohort, _id(key))
        row.assignment, row.member_id, row.submission_id = sub.assignment, sub.member_id, sub.id
    row.created_at = now
    session.add(row)
    session.flush()
    record(session, cohort.id, actor.member_id, f"exchange.{kind}", row, assignment=row.assignment)
    blobs.put(session, upload.blob, upload.temp)
    return _stamp(row, {actor.member_id or 0: actor.username})


def releases(session: Session, actor: Actor, cohort: Cohort, course: str) -> list[dict[str, Any]]:
    """The latest release of each assignment in the course, for anyone who takes or runs it."""
    _course(cohort, course)
    if not _staff(actor):
        _may(actor, cohort, "exchange.submit")
    rows = session.scalars(
        select(ExchangeFile)
        .where(
            ExchangeFile.cohort_id == cohort.id,
            ExchangeFile.kind == "release",
            ExchangeFile.removed_at.is_(None),
        )
        .order_by(ExchangeFile.assignment, ExchangeFile.created_at, ExchangeFile.id)
    ).all()
    latest = {row.assignment: row for row in rows}
    return [_stamp(row, {}) for _name, row in sorted(latest.items())]


def submissions(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    course: str,
    assignment: str | None = None,
    student: str | None = None,
) -> list[dict[str, Any]]:
    """Submissions in time order: every learner's for staff, a learner's own (but those they
    removed) for them; each says whether feedback on it has been released."""
    _course(cohort, course)
    query = select(ExchangeFile, Member.username).join(Member, Member.id == ExchangeFile.member_id)
    query = query.where(ExchangeFile.cohort_id == cohort.id, ExchangeFile.kind == "submission")
    if not _staff(actor):
        _may(actor, cohort, "exchange.submit")
        query = query.where(
            ExchangeFile.member_id == actor.member_id, ExchangeFile.removed_at.is_(None)
        )
    if assignment:
        query = query.where(ExchangeFile.assignment == _assignment(assignment))
    if student:
        query = query.where(Member.username == student)
    rows = session.execute(query.order_by(ExchangeFile.created_at, ExchangeFile.id)).all()
    with_feedback = set(
        session.scalars(
            select(ExchangeFile.submission_id).where(
                ExchangeFile.cohort_id == cohort.id, ExchangeFile.kind == "feedback"
            )
        )
    )
    out = []
    for row, username in rows:
        item = _stamp(row, {row.member_id or 0: username})
        item["feedback"] = row.id in with_feedback
        out.append(item)
    return out


def archive_of(
    session: Session, actor: Actor, cohort: Cohort, course: str, kind: str, key: str
) -> tuple[str, dict[str, Any]]:
    """The blob name of the archive asked for, once the actor may read it: a release (by
    assignment), a submission (by id; staff or its learner) or the latest feedback on one."""
    _course(cohort, course)
    if kind == "release":
        if not _staff(actor):
            _may(actor, cohort, "exchange.submit")
        row = _latest_release(session, cohort, _assignment(key))
        if row is None:
            raise NotFound(f"assignment {key!r} is not released in {course!r}", field="assignment")
        return row.blob, _checked(row)
    if not _staff(actor):
        _may(actor, cohort, "exchange.submit")
    sub = _submission(session, actor, cohort, _id(key))
    if kind == "submission":
        return sub.blob, _checked(sub)
    if kind != "feedback":
        raise NotFound(f"no exchange {kind[:20]!r}")
    feedback = session.scalar(
        select(ExchangeFile)
        .where(ExchangeFile.kind == "feedback", ExchangeFile.submission_id == sub.id)
        .order_by(ExchangeFile.created_at.desc(), ExchangeFile.id.desc())
        .limit(1)
    )
    if feedback is None:
        raise NotFound(f"no feedback released on submission {sub.id}", field="submission")
    return feedback.blob, _checked(feedback)


def _checked(row: ExchangeFile) -> dict[str, Any]:
    """What a download says of its archive: its listing, and the SHA-256 taken at upload,
    so the client can tell the bytes it got are those it was given."""
    return {**_stamp(row, {}), "sha256": row.sha256}


def remove_submission(
    session: Session, actor: Actor, cohort: Cohort, course: str, key: str
) -> dict[str, Any]:
    """A learner removes their own submission from their own list, as ``nbgrader list
    --cached --remove`` removes the learner's record of it in nbgrader's filesystem exchange:
    it leaves their list and their feedback, but the submission itself stays where staff
    list and collect it (as nbgrader's inbound copy does), and it still counts against their
    limits. Only the learner's own (another's is not found); staff remove none this way."""
    _course(cohort, course)
    _may(actor, cohort, "exchange.submit")
    row = _submission(session, actor, cohort, _id(key))
    row.removed_at = utcnow()
    record(session, cohort.id, actor.member_id, "exchange.remove", row, assignment=row.assignment)
    return _stamp(row, {actor.member_id or 0: actor.username})


def unrelease(
    session: Session, actor: Actor, cohort: Cohort, course: str, key: str
) -> dict[str, Any]:
    """Staff take a released assignment back (``nbgrader list --remove``, as nbgrader's
    filesystem exchange removes its outbound copy): learners no longer list, fetch or submit
    it; what they submitted stays, for staff to list and collect. Releasing it again makes it
    available anew (no ``--force`` needed). Every release of it is marked, so an older one
    never shows through."""
    _course(cohort, course)
    _may(actor, cohort, "exchange.manage")
    assignment = _assignment(key)
    latest = _latest_release(session, cohort, assignment)
    if latest is None:
        raise NotFound(
            f"assignment {assignment!r} is not released in {course!r}", field="assignment"
        )
    now = utcnow()
    for row in session.scalars(
        select(ExchangeFile).where(
            ExchangeFile.cohort_id == cohort.id,
            ExchangeFile.kind == "release",
            ExchangeFile.assignment == assignment,
            ExchangeFile.removed_at.is_(None),
        )
    ):
        row.removed_at = now
    record(session, cohort.id, actor.member_id, "exchange.unrelease", latest, assignment=assignment)
    return _stamp(latest, {})
