"""Where a review round opens: ``open_round`` collects the assignment's submissions through
nbgrader (``nbgrader_io``), takes them in (``round_submissions``: snapshot and pack), allocates
reviewers (``allocation``), writes the anonymized packets and adds the instructor's calibration
items; ``services.review_rounds.create_round`` then records the round, its submissions and its
allocations, and logs ``review.open``. CLI: ``nbcohort review open``.

Files are written into a fresh round folder before the one transaction that enters the
round; if anything fails, the folder is removed and collect's writes into the course are
undone, so a round is either whole or absent. With the service exchange configured, collect
goes through the service and every packet is uploaded to it before that transaction
(``round_exchange``; the round's settings say ``packets: exchange``), so the service serves
packets from its own store; a failed open leaves only uploaded packets no allocation names.
Changing an open round is ``round_update``; closing it, ``round_close``.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from nbgrader.exchange import ExchangeError
from sqlalchemy import select

from nbcohort.cohorts.models import ReviewRound, utcnow
from nbcohort.cohorts.services.cohort_registry import get_cohort
from nbcohort.cohorts.services.errors import Conflict
from nbcohort.cohorts.services.graduation import refuse_after_graduation
from nbcohort.cohorts.services.review_rounds import NewSubmission, create_round
from nbcohort.exchange.allocation import AllocationError, allocate, check
from nbcohort.exchange.nbgrader_io import collect
from nbcohort.exchange.packets import write_packets
from nbcohort.exchange.round_context import RoundContext, RoundError, round_lock
from nbcohort.exchange.round_exchange import upload_packets, uses_service, withdraw_packets
from nbcohort.exchange.round_submissions import take_submissions
from nbcohort.exchange.rubric import ReviewSpec

__all__ = ["OpenReport", "open_round"]


@dataclass
class OpenReport:
    assignment: str
    round_id: int = 0
    submissions: int = 0
    allocations: int = 0
    excluded: dict[str, str] = field(default_factory=dict)  # student -> why
    mentions: dict[str, list[str]] = field(default_factory=dict)  # author -> what to check
    notes: dict[str, list[str]] = field(default_factory=dict)


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
    _refuse_a_second_round(ctx, assignment)
    if due <= utcnow():
        raise RoundError(f"the due date {due:%Y-%m-%d %H:%M %Z} has passed")
    with round_lock(ctx, assignment):
        return _open_locked(ctx, assignment, spec, k, seed, due)


def _refuse_a_second_round(ctx: RoundContext, assignment: str) -> None:
    """A Conflict, before any work, when the assignment has a round already (when two open at
    once, ``create_round`` decides)."""
    with ctx.store.read() as s:
        cohort_id = get_cohort(s, ctx.cohort).id
        # A graduated cohort opens no round: said before nbgrader collects anything.
        refuse_after_graduation(s, cohort_id, "no review round can open")
        existing = s.scalar(
            select(ReviewRound.status).where(
                ReviewRound.cohort_id == cohort_id,
                ReviewRound.assignment == assignment,
            )
        )
    if existing is not None:
        raise Conflict(
            f"a review round for {assignment!r} is already {existing}; "
            f"see `nbcohort review status {assignment}`"
        )


def _open_locked(
    ctx: RoundContext, assignment: str, spec: ReviewSpec, k: int, seed: int, due: datetime
) -> OpenReport:
    _refuse_a_second_round(ctx, assignment)  # opened meanwhile: collect would be wasted
    report = OpenReport(assignment)
    batch = collect(ctx.api, assignment)
    report.excluded.update(batch.refused)
    folder = ctx.data_dir / "reviews" / ctx.cohort / f"{assignment}-{secrets.token_hex(4)}"
    uploaded: list[str] = []  # packets the service has: withdrawn if the open fails
    try:
        if not batch.submissions:
            raise RoundError(
                f"nbgrader collected no submissions of {assignment!r}; nothing to review"
                + "".join(f"\n  left out {who}: {why}" for who, why in batch.refused.items())
            )
        folder.mkdir(parents=True)
        taken = take_submissions(ctx, assignment, batch.submissions, folder)
        report.excluded.update(taken.excluded)
        report.mentions, report.notes = taken.mentions, taken.notes
        packed, subs, members = taken.packed, taken.rows, taken.members
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
        settings = {**spec.settings_json(), "excluded": report.excluded}
        if uses_service(ctx.config):
            try:
                upload_packets(ctx.api, folder / "packets", assignment, uploaded)
            except ExchangeError as exc:
                raise RoundError(f"the packets could not be uploaded: {exc}") from None
            settings["packets"] = "exchange"
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
                settings=settings,
                reviewers=k,
                seed=seed,
                due_at=due,
                folder=str(folder),
                submissions=rows,
                pairs=entries,
            )
            report.round_id = rnd.id
    except BaseException as exc:
        shutil.rmtree(folder, ignore_errors=True)
        batch.undo()
        if uploaded:
            withdraw_packets(ctx.api, assignment, uploaded, exc)
        raise
    batch.keep()
    report.submissions, report.allocations = len(authors), len(entries)
    return report
