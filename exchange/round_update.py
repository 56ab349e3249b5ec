"""Where an open review round changes: ``update_round`` lets late submitters join without
breaking the allocation's rules (``reallocation.add_late``; the pairs they take over are
withdrawn) and moves reviews missed past their due date, or left by members who left the
roster, to a backup pool (``reallocation.reassign``). ``services.review_rounds`` records it:
``withdraw_allocations`` (logs ``review.withdraw``), ``move_allocation`` (``review.reassign``)
and ``add_allocations`` (``review.allocate``). CLI: ``nbcohort review reassign``.

Like opening, new files go into a fresh batch folder before the one transaction that records
them; if anything fails, that batch (and any new snapshots) is removed and collect's writes
into the course are undone. A late submission that is left out leaves nothing behind.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from nbgrader.exchange import ExchangeError
from sqlalchemy import select

from nbcohort.cohorts.models import (
    Allocation,
    Member,
    Review,
    ReviewRound,
    ReviewSubmission,
    utcnow,
)
from nbcohort.cohorts.services.cohort_registry import get_cohort
from nbcohort.cohorts.services.errors import Conflict
from nbcohort.cohorts.services.review_rounds import (
    add_allocations,
    effective_due,
    find_round,
    move_allocation,
    withdraw_allocations,
)
from nbcohort.exchange.allocation import AllocationError
from nbcohort.exchange.nbgrader_io import collect
from nbcohort.exchange.packets import PackedSubmission, write_packets
from nbcohort.exchange.reallocation import add_late, reassign
from nbcohort.exchange.round_context import (
    RoundContext,
    RoundError,
    members_by_username,
    round_lock,
)
from nbcohort.exchange.round_exchange import upload_packets, withdraw_packets
from nbcohort.exchange.round_submissions import take_submissions
from nbcohort.exchange.rubric import ReviewSpec

__all__ = ["UpdateReport", "update_round"]


@dataclass
class UpdateReport:
    late: list[str] = field(default_factory=list)
    moved: list[tuple[str, str, str]] = field(default_factory=list)  # author, from, to
    excluded: dict[str, str] = field(default_factory=dict)
    uncovered: list[str] = field(default_factory=list)


def update_round(
    ctx: RoundContext,
    assignment: str,
    *,
    due: datetime,
    pool: Sequence[str] = (),
) -> UpdateReport:
    """Bring an open round up to date: late submitters join without breaking the allocation's
    rules, and reviews missed past their due date (or left by members who left the roster)
    move to a backup pool: reviewers who finished, plus ``pool`` (e.g. facilitators)."""
    spec = ctx.spec(assignment)
    if due <= utcnow():
        raise RoundError(f"the new due date {due:%Y-%m-%d %H:%M %Z} has passed")
    with round_lock(ctx, assignment):
        return _update_locked(ctx, assignment, spec, due, pool)


def _update_locked(
    ctx: RoundContext, assignment: str, spec: ReviewSpec, due: datetime, pool: Sequence[str]
) -> UpdateReport:
    with ctx.store.read() as s:
        rnd = find_round(s, ctx.actor, get_cohort(s, ctx.cohort), assignment)
        if rnd.status != "open":
            raise Conflict(f"the review round for {assignment!r} is {rnd.status}")
        rnd_id, folder, k, seed = rnd.id, Path(rnd.folder), rnd.reviewers_per_submission, rnd.seed
        in_exchange = rnd.settings.get("packets") == "exchange"
        state = _state(s, rnd)
    report = UpdateReport()
    batch = f"packets-{secrets.token_hex(3)}"
    collected = collect(ctx.api, assignment)
    for student, why in collected.refused.items():
        kept = " (the round keeps the submission it has)" if student in state.authors else ""
        report.excluded[student] = f"newer submission not collected{kept}: {why}"
    new = [st for st in collected.submissions if st not in state.authors]
    uploaded: list[str] = []  # new packets the service has: withdrawn if the update fails
    try:
        taken = take_submissions(ctx, assignment, collected.submissions, folder, state.authors)
        report.excluded.update(taken.excluded)
        packed, subs, members = taken.packed, taken.rows, taken.members
        members.update(members_by_username(ctx, state.usernames()))
        teams = {u: m.team for u, m in members.items()}
        missing = {
            p
            for p, a in state.live.items()
            if a["status"] == "assigned" and (a["late"] or not a["active"])
        }
        pairs = list(state.pairs)
        for late in sorted(subs):
            try:
                pairs = add_late(
                    pairs,
                    late,
                    k,
                    seed=seed,
                    locked=state.locked | missing,
                    teams=teams,
                    team_rule=spec.team_rule,
                )
                report.late.append(late)
            except AllocationError as exc:
                report.excluded[late] = f"late submission not added: {exc}"
                subs.pop(late)
                shutil.rmtree(folder / "submissions" / late, ignore_errors=True)
        for student in report.excluded:
            if student not in state.authors:
                collected.drop(student)
        late_added = [p for p in pairs if p not in set(state.pairs)]
        late_dropped = [p for p in state.pairs if p not in set(pairs)]
        backup = sorted({r for r, done in state.finished.items() if done} | set(pool))
        before = set(pairs)
        if missing:
            try:
                pairs = reassign(
                    pairs,
                    missing,
                    backup,
                    seed=seed,
                    teams=teams,
                    team_rule=spec.team_rule,
                    barred=state.barred,
                )
            except AllocationError as exc:
                raise RoundError(f"cannot cover the missed reviews: {exc}") from None
        replacements: dict[str, list[tuple[str, str]]] = {}
        for pair in pairs:
            if pair not in before:
                replacements.setdefault(pair[1], []).append(pair)
        new_pairs = late_added + [p for ps in replacements.values() for p in ps]
        codes = (
            write_packets(
                folder / batch, {**state.packed(folder), **packed}, new_pairs, prefix=assignment
            )
            if new_pairs
            else {}
        )
        if in_exchange and codes:  # the service serves this round's packets from its store
            try:
                upload_packets(ctx.api, folder / batch, assignment, uploaded)
            except ExchangeError as exc:
                raise RoundError(f"the new packets could not be uploaded: {exc}") from None
        ids = {u: m.id for u, m in members.items()}
        late_index = {a: i for i, a in enumerate(sorted(subs))}
        with ctx.store.write() as s:
            rnd = s.get_one(ReviewRound, rnd_id)
            withdraw_allocations(s, ctx.actor, rnd, [state.live[p]["id"] for p in late_dropped])
            for r, a in sorted(missing):
                alloc = s.get_one(Allocation, state.live[(r, a)]["id"])
                target = replacements[a].pop()
                move_allocation(
                    s, ctx.actor, alloc, ids[target[0]], f"{batch}/{codes[target]}", due
                )
                report.moved.append((a, r, target[0]))
            entries: list[tuple[int, int | str, str, str]] = [
                (
                    ids[r],
                    state.sub_ids.get(a, f"new:{late_index.get(a)}"),
                    "peer",
                    f"{batch}/{codes[(r, a)]}",
                )
                for r, a in late_added
            ]
            add_allocations(
                s,
                ctx.actor,
                rnd,
                submissions=[subs[a] for a in sorted(subs)],
                pairs=entries,
                due_at=due,
            )
    except BaseException as exc:
        for student in new:
            shutil.rmtree(folder / "submissions" / student, ignore_errors=True)
        shutil.rmtree(folder / batch, ignore_errors=True)
        collected.undo()
        if uploaded:
            withdraw_packets(ctx.api, assignment, uploaded, exc)
        raise
    collected.keep()
    return report


@dataclass
class _State:
    """The round's live peer allocation as (reviewer, author) usernames."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    live: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    locked: set[tuple[str, str]] = field(default_factory=set)
    finished: dict[str, bool] = field(default_factory=dict)
    sub_ids: dict[str, int] = field(default_factory=dict)
    snapshots: dict[str, str] = field(default_factory=dict)
    authors: set[str] = field(default_factory=set)
    # pairs the round held before (withdrawn, moved away): one allocation per reviewer and
    # submission, so never made again
    barred: list[tuple[str, str]] = field(default_factory=list)

    def usernames(self) -> set[str]:
        return self.authors | {r for r, _a in self.pairs}

    def packed(self, folder: Path) -> dict[str, PackedSubmission]:
        """Existing authors' packets, reused as they were built at open (never re-packed)."""
        out = {}
        for author in self.authors:
            code = next((a["packet"] for p, a in self.live.items() if p[1] == author), None)
            if code:
                root = folder / code
                files = {
                    p.relative_to(root).as_posix(): p.read_bytes()
                    for p in root.rglob("*")
                    if p.is_file()
                }
                out[author] = PackedSubmission(files=files, mentions=[], notes=[])
        return out


def _state(s: Any, rnd: ReviewRound) -> _State:
    now = utcnow()
    state = _State()
    rows = s.execute(
        select(Allocation, Review, ReviewSubmission, Member)
        .join(ReviewSubmission, ReviewSubmission.id == Allocation.submission_id)
        .join(Member, Member.id == Allocation.reviewer_id)
        .outerjoin(Review, Review.allocation_id == Allocation.id)
        .where(Allocation.round_id == rnd.id)
    ).all()
    authors = {
        m.id: m.username for m in s.scalars(select(Member).where(Member.cohort_id == rnd.cohort_id))
    }
    for sub in s.scalars(
        select(ReviewSubmission).where(
            ReviewSubmission.round_id == rnd.id, ReviewSubmission.kind == "peer"
        )
    ):
        state.sub_ids[authors[sub.author_id]] = sub.id
        state.authors.add(authors[sub.author_id])
    for alloc, review, sub, reviewer in rows:
        if alloc.kind != "peer":
            continue
        pair = (reviewer.username, authors[sub.author_id])
        if alloc.status not in ("assigned", "submitted"):
            state.barred.append(pair)
            continue
        due = effective_due(rnd, alloc)
        state.pairs.append(pair)
        state.live[pair] = {
            "id": alloc.id,
            "status": alloc.status,
            "packet": alloc.packet,
            "late": due is not None and due < now,
            "active": reviewer.active,
        }
        if review is not None:
            state.locked.add(pair)
        done = alloc.status == "submitted"
        state.finished[reviewer.username] = (
            state.finished.get(reviewer.username, True) and done and reviewer.active
        )
    state.pairs.sort()
    return state
