"""Taking collected submissions into a review round, when it opens (``round_open``) and when
late ones join (``round_update``): each is snapshotted into the round's folder (copied by
``learner_files``, never following a link), packed for its reviewers (``packets``) and made
ready for the store (``NewSubmission``). One that cannot be is left out with its reason in
words, and the round goes on; what the instructor should check by hand is reported."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nbcohort.cohorts.models import Member
from nbcohort.cohorts.services.review_rounds import NewSubmission
from nbcohort.exchange.learner_files import CopyRules, Refused, copy_tree, shown
from nbcohort.exchange.nbgrader_io import Collected
from nbcohort.exchange.packets import Identity, PackedSubmission, PacketError, pack_submission
from nbcohort.exchange.round_context import RoundContext, members_by_username

__all__ = ["Taken", "take_submissions"]

_SNAPSHOT = CopyRules(ignore=(".ipynb_checkpoints", "__pycache__"))


@dataclass
class Taken:
    """Submissions taken in (by student): their packed files, their store rows and their
    authors; those left out, with the reason; mentions of the author and notes to check."""

    packed: dict[str, PackedSubmission] = field(default_factory=dict)
    rows: dict[str, NewSubmission] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)
    mentions: dict[str, list[str]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)


def take_submissions(
    ctx: RoundContext,
    assignment: str,
    collected: dict[str, Collected],
    folder: Path,
    known: Iterable[str] = (),
) -> Taken:
    """Snapshot and pack each collected submission not ``known`` to the round yet into
    ``folder``; anything unusable is reported and left out."""
    taken = Taken(members=members_by_username(ctx, collected))
    release = ctx.release_folder(assignment)
    for student, item in sorted(collected.items()):
        if student in known:
            continue
        member = taken.members.get(student)
        if member is None or not member.active:
            state = "no longer active" if member else "not on the cohort's roster"
            taken.excluded[student] = f"{state}; their submission is not reviewed"
            continue
        snapshot = folder / "submissions" / student
        identity = Identity(member.username, member.name, member.email or "", aliases=(student,))
        try:
            snapshot.parent.mkdir(exist_ok=True)
            copy_tree(item.folder, snapshot, _SNAPSHOT)
            packed = pack_submission(
                snapshot, identity, release=release if release.is_dir() else None
            )
            digest = _digest(snapshot)
        except Exception as exc:  # one bad submission is that learner's reason, not the round's
            shutil.rmtree(snapshot, ignore_errors=True)
            taken.excluded[student] = _reason(exc)
            continue
        taken.packed[student] = packed
        problems = [  # learner text, shown to the instructor: escaped, never raw
            shown(f"mentions the author ({m.kind}) in {m.file} cell {m.cell}: {m.snippet}", 400)
            for m in packed.mentions
        ]
        if problems:
            taken.mentions[student] = problems
        notes = [shown(n, 400) for n in packed.notes if "same as the release" not in n]
        if notes:
            taken.notes[student] = notes
        taken.rows[student] = NewSubmission(
            author_id=member.id,
            snapshot=str(snapshot),
            sha256=digest,
            submitted_at=item.timestamp,
            problems=problems + notes,
        )
    return taken


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _reason(exc: Exception) -> str:
    if isinstance(exc, Refused | PacketError):
        return str(exc)
    return f"could not be snapshotted: {type(exc).__name__}: {shown(str(exc), 200)}"
