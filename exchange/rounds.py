"""Opening a review round on an nbgrader assignment: collect, snapshot, allocate, pack,
publish. Bringing an open round up to date (late submissions, missed reviews) is in
``round_update``.

Files are written into a fresh round folder before the one transaction that enters the
round; if anything fails, the folder is removed and collect's writes into the course are
undone, so a round is either whole or absent. A learner's files are only ever copied by
``learner_files``, which never follows a link: one bad submission is left out with its
reason, and the round goes on.
"""

from __future__ import annotations

import fcntl
import hashlib
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path

from nbgrader.apps import NbGraderAPI
from sqlalchemy import select
from traitlets.config import Config

from nbcohort.cohorts.models import Member, ReviewRound, utcnow
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohorts import get_cohort
from nbcohort.cohorts.services.errors import Conflict
from nbcohort.cohorts.services.review_rounds import NewSubmission, create_round
from nbcohort.cohorts.store import Store
from nbcohort.exchange.allocation import AllocationError, allocate, check
from nbcohort.exchange.learner_files import CopyRules, Refused, copy_tree, shown
from nbcohort.exchange.nbgrader_io import Collected, collect, nbgrader_api
from nbcohort.exchange.packets import (
    Identity,
    PackedSubmission,
    PacketError,
    pack_submission,
    write_packets,
)
from nbcohort.exchange.rubric import ReviewSpec, load_review_spec

__all__ = ["OpenReport", "RoundContext", "RoundError", "open_round"]

_SNAPSHOT = CopyRules(ignore=(".ipynb_checkpoints", "__pycache__"))


class RoundError(RuntimeError):
    """The round cannot go ahead; nothing was published. The message says why."""


@dataclass
class RoundContext:
    """Where a round runs: the store, nbgrader's config, the cohort, the data folder."""

    store: Store
    config: Config
    cohort: str
    data_dir: Path
    course_root: Path
    actor: Actor = field(default_factory=Actor.system)

    @cached_property
    def api(self) -> NbGraderAPI:
        return nbgrader_api(self.config)

    def spec(self, assignment: str) -> ReviewSpec:
        return load_review_spec(self.course_root / "course.toml", assignment)

    def release_folder(self, assignment: str) -> Path:
        coursedir = self.api.coursedir
        return Path(coursedir.format_path(coursedir.release_directory, ".", assignment))


@dataclass
class OpenReport:
    assignment: str
    round_id: int = 0
    submissions: int = 0
    allocations: int = 0
    excluded: dict[str, str] = field(default_factory=dict)  # student -> why
    mentions: dict[str, list[str]] = field(default_factory=dict)  # author -> what to check
    notes: dict[str, list[str]] = field(default_factory=dict)


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _members(ctx: RoundContext, usernames: Iterable[str]) -> dict[str, Member]:
    with ctx.store.read() as s:
        cohort = get_cohort(s, ctx.cohort)
        rows = s.scalars(
            select(Member).where(
                Member.cohort_id == cohort.id, Member.username.in_(list(usernames))
            )
        )
        found = {m.username: m for m in rows}
        for m in found.values():
            s.expunge(m)
        return found


def _pack(
    ctx: RoundContext,
    assignment: str,
    collected: dict[str, Collected],
    folder: Path,
    report: OpenReport,
    known: Iterable[str] = (),
) -> tuple[dict[str, PackedSubmission], dict[str, NewSubmission], dict[str, Member]]:
    """Snapshot and pack each new submission; anything unusable is reported and left out."""
    members = _members(ctx, collected)
    release = ctx.release_folder(assignment)
    packed, subs = {}, {}
    for student, item in sorted(collected.items()):
        if student in known:
            continue
        member = members.get(student)
        if member is None or not member.active:
            state = "no longer active" if member else "not on the cohort's roster"
            report.excluded[student] = f"{state}; their submission is not reviewed"
            continue
        snapshot = folder / "submissions" / student
        identity = Identity(member.username, member.name, member.email or "", aliases=(student,))
        try:
            snapshot.parent.mkdir(exist_ok=True)
            copy_tree(item.folder, snapshot, _SNAPSHOT)
            packed[student] = pack_submission(
                snapshot, identity, release=release if release.is_dir() else None
            )
            digest = _digest(snapshot)
        except Exception as exc:  # one bad submission is that learner's reason, not the round's
            shutil.rmtree(snapshot, ignore_errors=True)
            packed.pop(student, None)
            report.excluded[student] = _reason(exc)
            continue
        problems = [  # learner text, shown to the instructor: escaped, never raw
            shown(f"mentions the author ({m.kind}) in {m.file} cell {m.cell}: {m.snippet}", 400)
            for m in packed[student].mentions
        ]
        if problems:
            report.mentions[student] = problems
        notes = [shown(n, 400) for n in packed[student].notes if "same as the release" not in n]
        if notes:
            report.notes[student] = notes
        subs[student] = NewSubmission(
            author_id=member.id,
            snapshot=str(snapshot),
            sha256=digest,
            submitted_at=item.timestamp,
            problems=problems + notes,
        )
    return packed, subs, members


def _reason(exc: Exception) -> str:
    if isinstance(exc, Refused | PacketError):
        return str(exc)
    return f"could not be snapshotted: {type(exc).__name__}: {shown(str(exc), 200)}"


def _calibration(spec: ReviewSpec, folder: Path) -> tuple[list[NewSubmission], list[str]]:
    """Copy the instructor's calibration samples into packets every reviewer gets."""
    subs, codes = [], []
    for item in spec.calibration:
        code = "calibration-" + secrets.token_hex(4)
        dest = folder / "packets" / code
        dest.mkdir(parents=True)
        shutil.copy2(item.notebook, dest / spec.notebook)
        subs.append(
            NewSubmission(
                author_id=None,
                snapshot=str(dest),
                kind="calibration",
                known_scores=dict(item.scores),
            )
        )
        codes.append(f"packets/{code}")
    return subs, codes


def open_round(
    ctx: RoundContext,
    assignment: str,
    *,
    due: datetime,
    reviewers: int | None = None,
    seed: int | None = None,
) -> OpenReport:
    """Collect through nbgrader, snapshot, allocate, build packets and publish the round."""
    spec = ctx.spec(assignment)
    k = reviewers or spec.reviewers
    seed = secrets.randbelow(2**31) if seed is None else seed
    with ctx.store.read() as s:
        cohort = get_cohort(s, ctx.cohort)
        existing = s.scalar(
            select(ReviewRound.status).where(
                ReviewRound.cohort_id == cohort.id, ReviewRound.assignment == assignment
            )
        )
    if existing is not None:
        raise Conflict(
            f"a review round for {assignment!r} is already {existing}; "
            f"see `nbcohort review status {assignment}`"
        )
    if due <= utcnow():
        raise RoundError(f"the due date {due:%Y-%m-%d %H:%M %Z} has passed")
    with _opening(ctx, assignment):
        return _open_locked(ctx, assignment, spec, k, seed, due)


@contextmanager
def _opening(ctx: RoundContext, assignment: str) -> Iterator[None]:
    """One open or update at a time per assignment on this data folder: nbgrader's collect
    is not safe to run twice at once, and the second instructor should hear why, not see a
    traceback."""
    lock_dir = ctx.data_dir / "reviews" / ctx.cohort
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f".{assignment}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(
                f"another instructor is opening or updating the review round for {assignment!r} "
                "right now"
            ) from None
        yield


def _open_locked(
    ctx: RoundContext, assignment: str, spec: ReviewSpec, k: int, seed: int, due: datetime
) -> OpenReport:
    with ctx.store.read() as s:
        existing = s.scalar(
            select(ReviewRound.status).where(
                ReviewRound.cohort_id == get_cohort(s, ctx.cohort).id,
                ReviewRound.assignment == assignment,
            )
        )
    if existing is not None:
        raise Conflict(
            f"a review round for {assignment!r} is already {existing}; "
            f"see `nbcohort review status {assignment}`"
        )
    report = OpenReport(assignment)
    batch = collect(ctx.api, assignment)
    report.excluded.update(batch.refused)
    folder = ctx.data_dir / "reviews" / ctx.cohort / f"{assignment}-{secrets.token_hex(4)}"
    try:
        if not batch.submissions:
            raise RoundError(
                f"nbgrader collected no submissions of {assignment!r}; nothing to review"
                + "".join(f"\n  left out {who}: {why}" for who, why in batch.refused.items())
            )
        folder.mkdir(parents=True)
        packed, subs, members = _pack(ctx, assignment, batch.submissions, folder, report)
        for student in report.excluded:  # collect's copy for a left-out learner goes too
            batch.drop(student)
        authors = sorted(subs)
        teams = {u: members[u].team for u in authors}
        try:
            pairs = allocate(authors, k, seed=seed, teams=teams, team_rule=spec.team_rule)
        except AllocationError as exc:
            raise RoundError(
                f"cannot allocate {k} reviewers to {len(authors)} usable submissions: {exc}"
            ) from None
        problems = check(pairs, k, authors=authors, teams=teams, team_rule=spec.team_rule)
        if problems:
            raise RoundError("allocation broke its rules: " + "; ".join(problems))
        all_pairs = list(pairs) + ([(a, a) for a in authors] if spec.self_assessment else [])
        codes = write_packets(folder / "packets", packed, all_pairs, prefix=assignment)
        cal_subs, cal_codes = _calibration(spec, folder)
        index = {a: i for i, a in enumerate(authors)}
        rows = [subs[a] for a in authors] + cal_subs
        entries = [
            (members[r].id, index[a], "self" if r == a else "peer", f"packets/{codes[(r, a)]}")
            for r, a in all_pairs
        ]
        for j, code in enumerate(cal_codes):
            entries += [(members[r].id, len(authors) + j, "calibration", code) for r in authors]
        with ctx.store.write() as s:
            rnd = create_round(
                s,
                ctx.actor,
                get_cohort(s, ctx.cohort),
                assignment=assignment,
                criteria=spec.rubric_json(),
                settings={**spec.settings_json(), "excluded": report.excluded},
                reviewers=k,
                seed=seed,
                due_at=due,
                folder=str(folder),
                submissions=rows,
                pairs=entries,
            )
            report.round_id = rnd.id
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        batch.undo()
        raise
    batch.keep()
    report.submissions, report.allocations = len(authors), len(entries)
    return report
