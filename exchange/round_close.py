"""Where a review round closes: ``close`` aggregates the peers' scores (``aggregate``: the
model or the round's chosen baseline) and ``services.review_rounds.close_round`` keeps the
results and logs ``review.close``; ``push_grades`` then hands scores and comments to nbgrader
(gradebook manual scores, generated and released feedback, through ``nbgrader_io``). A closed
round opens again with ``reopen`` (``reopen_round``, ``review.reopen``); its results stand until
it closes again. CLI: ``nbcohort review close``, ``review reopen``; ``review override`` sets an
instructor's score (``set_override``) and pushes the grades again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from nbcohort.cohorts.models import ReviewRound, ReviewSubmission, utcnow
from nbcohort.cohorts.services.cohort_registry import get_cohort
from nbcohort.cohorts.services.errors import Conflict
from nbcohort.cohorts.services.review_rounds import close_round as store_close
from nbcohort.cohorts.services.review_rounds import find_round, observations, reopen_round
from nbcohort.cohorts.services.reviews import reviewer_label
from nbcohort.exchange import aggregate
from nbcohort.exchange.nbgrader_io import CellGrade, autograde, release_feedback, write_grades
from nbcohort.exchange.round_context import RoundContext, RoundError

__all__ = ["CloseReport", "close", "push_grades", "reopen"]


@dataclass
class CloseReport:
    results: int = 0
    short: dict[str, int] = field(default_factory=dict)  # author -> reviews they got (< k)
    unreviewed: list[str] = field(default_factory=list)
    grades: dict[str, str] = field(default_factory=dict)  # student -> what went wrong
    graded: int = 0


def _aggregate(rnd: ReviewRound, rows: list[Any]) -> dict[int, dict[str, Any]]:
    """Per submission: the published scores (method from the round's settings), the median
    beside them, and the model's plain-English explanation."""
    criteria = rnd.rubric.criteria if rnd.rubric else []
    ids = [c["id"] for c in criteria]
    scales = [aggregate.Scale.from_levels([lv["points"] for lv in c["levels"]]) for c in criteria]
    peer = [(a, r) for a, r in rows if a.kind in ("peer", "calibration")]
    subs = sorted({a.submission_id for a, _r in peer})
    reviewers = sorted({a.reviewer_id for a, _r in peer})
    s_index = {s: i for i, s in enumerate(subs)}
    r_index = {r: i for i, r in enumerate(reviewers)}
    if not peer:
        return {}
    obs = aggregate.Observations(
        reviewer=np.array([r_index[a.reviewer_id] for a, _r in peer]),
        submission=np.array([s_index[a.submission_id] for a, _r in peer]),
        scores=np.array([[float(r.scores[c]) for c in ids] for _a, r in peer]),
        n_reviewers=len(reviewers),
        n_submissions=len(subs),
    )
    calibration = {
        s_index[a.submission_id]: np.array([float(a.submission.known_scores[c]) for c in ids])
        for a, _r in peer
        if a.kind == "calibration" and a.submission.known_scores
    }
    fit = aggregate.fit_model(obs, scales, calibration=calibration or None)
    baseline = {"median": aggregate.median, "mean": aggregate.mean, "ora2": aggregate.ora2}
    method = str(rnd.settings.get("aggregation", "model"))
    published = fit.scores if method == "model" else baseline[method](obs)
    med = aggregate.median(obs)
    counts = np.bincount(obs.submission, minlength=len(subs))
    out = {}
    for sub_id, i in s_index.items():
        if i in calibration:
            continue
        scores = {c: round(float(published[i, j]), 2) for j, c in enumerate(ids)}
        out[sub_id] = {
            "method": method,
            "scores": scores,
            "total": round(sum(scores.values()), 2),
            "max_total": float(sum(sc.maximum for sc in scales)),
            "median": {c: float(med[i, j]) for j, c in enumerate(ids)},
            "reviews": int(counts[i]),
            "explanation": aggregate.explain(obs, fit, i, scales, criteria=ids),
        }
    return out


def close(
    ctx: RoundContext, assignment: str, *, force: bool = False, complete_short: bool = False
) -> CloseReport:
    """Close the round. Before the due date only with ``force``; submissions still short of
    reviews are completed with fewer once the flexible delay has passed (or with
    ``complete_short``), and the report names them."""
    now = utcnow()
    report = CloseReport()
    with ctx.store.write() as s:
        rnd = find_round(s, ctx.actor, get_cohort(s, ctx.cohort), assignment)
        if rnd.status != "open":
            raise Conflict(f"the review round for {assignment!r} is already {rnd.status}")
        due = rnd.due_at or now
        if now < due and not force:
            raise RoundError(
                f"reviews are due {due:%Y-%m-%d %H:%M} UTC; close earlier with --force"
            )
        rows = observations(s, rnd)
        done: dict[int, int] = {}
        for a, _r in rows:
            if a.kind == "peer" and a.status in ("assigned", "submitted"):
                done[a.submission_id] = done.get(a.submission_id, 0) + 1
        k = rnd.reviewers_per_submission
        flexible = due + timedelta(hours=float(rnd.settings.get("flexible_after_hours", 48)))
        for sub in s.query(ReviewSubmission).filter_by(round_id=rnd.id, kind="peer"):
            name = sub.author.username if sub.author else str(sub.id)
            got = done.get(sub.id, 0)
            if got == 0:
                report.unreviewed.append(name)
            elif got < k:
                report.short[name] = got
        if (report.short or report.unreviewed) and now < flexible and not complete_short:
            lacking = ", ".join(
                [f"{n} ({g} of {k})" for n, g in sorted(report.short.items())]
                + [f"{n} (0 of {k})" for n in sorted(report.unreviewed)]
            )
            raise RoundError(
                f"submissions lack reviews: {lacking}. Run `nbcohort review reassign "
                f"{assignment} --due ...`, wait until {flexible:%Y-%m-%d %H:%M} UTC, or "
                "close now with --complete-short"
            )
        results = _aggregate(
            rnd, [(a, r) for a, r in rows if a.status in ("assigned", "submitted")]
        )
        for result in results.values():
            result["short"] = result["reviews"] < k
        store_close(s, ctx.actor, rnd, results)
        report.results = len(results)
    grades = push_grades(ctx, assignment)
    report.grades, report.graded = grades["failed"], grades["graded"]
    return report


def _comment(reviews: list[tuple[str, str]], explanation: str) -> str:
    parts = [f"{who}: {text}" for who, text in reviews if text]
    return "\n\n".join(parts + ([explanation] if explanation else []))


def push_grades(ctx: RoundContext, assignment: str) -> dict[str, Any]:
    """Write each result (an instructor override wins) into nbgrader's gradebook as the
    manual score and comment of the rubric's grade cells, then generate and release feedback."""
    with ctx.store.read() as s:
        rnd = find_round(s, ctx.actor, get_cohort(s, ctx.cohort), assignment)
        if rnd.status != "closed":
            raise Conflict(f"the review round for {assignment!r} is {rnd.status}; close it first")
        criteria = rnd.rubric.criteria if rnd.rubric else []
        notebook = str(rnd.settings.get("notebook", f"{assignment}.ipynb")).removesuffix(".ipynb")
        comments: dict[int, dict[str, list[tuple[str, str]]]] = {}
        labels: dict[int, int] = {}
        for a, r in observations(s, rnd):
            if a.kind != "peer" or a.status not in ("assigned", "submitted"):
                continue
            label = reviewer_label(labels.get(a.submission_id, 0))
            labels[a.submission_id] = labels.get(a.submission_id, 0) + 1
            for cid, text in r.comments.items():
                comments.setdefault(a.submission_id, {}).setdefault(cid, []).append((label, text))
        grades: dict[str, dict[str, CellGrade]] = {}
        for sub in s.query(ReviewSubmission).filter_by(round_id=rnd.id, kind="peer"):
            if sub.author is None or not sub.result or "scores" not in sub.result:
                continue
            scores = dict(sub.result["scores"])
            override = (sub.override or {}).get("scores", {})
            scores.update(override)
            cells = {}
            for c in criteria:
                if not c.get("cell"):
                    continue
                note = (
                    ""
                    if c["id"] not in override
                    else (
                        f"Instructor's score: {sub.override['reason']}"  # type: ignore[index]
                    )
                )
                text = _comment(comments.get(sub.id, {}).get(c["id"], []), note)
                cells[c["cell"]] = CellGrade(float(scores[c["id"]]), text)
            if cells:
                grades[sub.author.username] = cells
    failed = autograde(ctx.api, assignment, grades)
    failed.update(write_grades(ctx.api, assignment, notebook, grades))
    ok = [st for st in grades if st not in failed]
    failed.update(release_feedback(ctx.api, assignment, ok))
    return {"graded": len([st for st in grades if st not in failed]), "failed": failed}


def reopen(ctx: RoundContext, assignment: str, *, due: datetime) -> None:
    """Open a closed round again (results stand until it closes again)."""
    with ctx.store.write() as s:
        rnd = find_round(s, ctx.actor, get_cohort(s, ctx.cohort), assignment)
        reopen_round(s, ctx.actor, rnd, due)
