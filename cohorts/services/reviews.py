"""Peer review as members take part: the reviewer's inbox and rubric form, the author's
reviews and result, feedback on feedback, and publishing a reviewed artifact (a reviewer's
packet files: review_packets.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from nbcohort.cohorts.config import CommunitySettings
from nbcohort.cohorts.models import (
    Allocation,
    Cohort,
    Review,
    ReviewRound,
    ReviewSubmission,
    utcnow,
)
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.artifacts import share_artifact
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.review_rounds import effective_due, find_round

__all__ = [
    "LIVE",
    "publish_reviewed",
    "rate_review",
    "review_inbox",
    "reviewer_label",
    "save_review",
]

MAX_COMMENT = 5000
LIVE = ("assigned", "submitted")  # allocations still open to their reviewer


def reviewer_label(index: int) -> str:
    """How an author sees their i-th review's reviewer (in allocation order), everywhere."""
    return (
        "Reviewer " + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[index % 26] + ("" if index < 26 else str(index))
    )


def _review_dict(review: Review | None, *, editable: bool) -> dict[str, Any]:
    if review is None:
        return {
            "scores": {},
            "comments": {},
            "overall_comment": "",
            "draft": True,
            "submitted_at": None,
            "editable": editable,
        }
    return {
        "id": review.id,
        "scores": dict(review.scores),
        "comments": dict(review.comments),
        "overall_comment": review.overall_comment,
        "draft": review.draft,
        "submitted_at": review.submitted_at.isoformat() if review.submitted_at else None,
        "editable": editable,
    }


def _finished_own_reviews(session: Session, rnd: ReviewRound, member_id: int) -> bool:
    rows = session.execute(
        select(Allocation.id, Review.draft)
        .outerjoin(Review, Review.allocation_id == Allocation.id)
        .where(
            Allocation.round_id == rnd.id,
            Allocation.reviewer_id == member_id,
            Allocation.status.in_(LIVE),
            Allocation.kind != "self",
        )
    ).all()
    return all(draft is False for _id, draft in rows)


def review_inbox(session: Session, actor: Actor, cohort: Cohort, assignment: str) -> dict[str, Any]:
    """What the peer-review widget shows this member: their assigned packets (calibration
    first) with drafts, and, as an author, the reviews and result they may see."""
    rnd = find_round(session, actor, cohort, assignment)
    now = utcnow()
    rows = session.execute(
        select(Allocation, Review)
        .outerjoin(Review, Review.allocation_id == Allocation.id)
        .options(joinedload(Allocation.submission).joinedload(ReviewSubmission.author))
        .where(
            Allocation.round_id == rnd.id,
            Allocation.reviewer_id == actor.member_id,
            Allocation.status.in_(LIVE),
        )
        .order_by(Allocation.kind != "calibration", Allocation.id)
    ).all()
    anonymity = rnd.settings.get("anonymity", "double-blind")
    inbox = []
    for alloc, review in rows:
        due = effective_due(rnd, alloc)
        editable = rnd.status == "open" and (due is None or now <= due)
        author = alloc.submission.author
        item = {
            "allocation_id": alloc.id,
            "kind": alloc.kind,
            "packet": alloc.packet,
            "due_at": due.isoformat() if due else None,
            "author": author.name if author and anonymity != "double-blind" else None,
            "review": _review_dict(review, editable=editable),
        }
        if alloc.kind == "calibration" and review is not None and not review.draft:
            item["known_scores"] = alloc.submission.known_scores
        inbox.append(item)
    own = session.scalar(
        select(ReviewSubmission).where(
            ReviewSubmission.round_id == rnd.id, ReviewSubmission.author_id == actor.member_id
        )
    )
    return {
        "assignment": rnd.assignment,
        "status": rnd.status,
        "due_at": rnd.due_at.isoformat() if rnd.due_at else None,
        "rubric": rnd.rubric.criteria if rnd.rubric else [],
        "required_comments": bool(rnd.settings.get("required_comments", True)),
        "anonymity": anonymity,
        "inbox": inbox,
        "own": _own_result(session, rnd, own, actor) if own is not None else None,
    }


def _own_result(
    session: Session, rnd: ReviewRound, sub: ReviewSubmission, actor: Actor
) -> dict[str, Any]:
    """The author's view: nothing before close, and (by default) nothing before they have
    finished their own reviews, so that everyone reviews before seeing their grade."""
    out: dict[str, Any] = {"submission_id": sub.id, "visible": False, "reason": ""}
    if rnd.status != "closed" or sub.result is None:
        out["reason"] = "Your reviews and result appear when the round closes."
        return out
    if (
        rnd.settings.get("results_after_own_reviews", True)
        and actor.member_id is not None
        and not _finished_own_reviews(session, rnd, actor.member_id)
    ):
        out["reason"] = "Finish your own reviews to see the reviews of your work."
        return out
    rows = session.execute(
        select(Allocation, Review)
        .join(Review, Review.allocation_id == Allocation.id)
        .options(joinedload(Allocation.reviewer))
        .where(
            Allocation.submission_id == sub.id,
            Review.draft.is_(False),
            Allocation.kind == "peer",
            Allocation.status.in_(LIVE),
        )
        .order_by(Allocation.id)
    ).all()
    open_round = rnd.settings.get("anonymity") == "open"
    reviews = [
        {
            "id": review.id,
            "reviewer": alloc.reviewer.name if open_round else reviewer_label(i),
            "scores": dict(review.scores),
            "comments_html": {k: render_markdown(v) for k, v in review.comments.items() if v},
            "overall_html": render_markdown(review.overall_comment),
            "helpfulness": review.helpfulness,
        }
        for i, (alloc, review) in enumerate(rows)
    ]
    out.update(visible=True, reviews=reviews, result=sub.result, override=sub.override)
    return out


def _check_scores(
    criteria: list[dict[str, Any]], scores: Any, *, complete: bool
) -> dict[str, float]:
    if not isinstance(scores, dict):
        raise Invalid("scores: an object of criterion -> points", field="scores")
    levels = {c["id"]: [lv["points"] for lv in c["levels"]] for c in criteria}
    out = {}
    for cid, value in scores.items():
        if cid not in levels:
            raise Invalid(
                f"no criterion {cid!r} in the rubric ({', '.join(levels)})", field=f"scores.{cid}"
            )
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or value not in levels[cid]
        ):
            allowed = ", ".join(f"{p:g}" for p in levels[cid])
            raise Invalid(
                f"{value!r} is not a level of {cid!r}; choose one of {allowed}",
                field=f"scores.{cid}",
            )
        out[cid] = float(value)
    missing = [cid for cid in levels if cid not in out]
    if complete and missing:
        raise Invalid(
            f"score every criterion before submitting: {', '.join(missing)} missing",
            field=f"scores.{missing[0]}",
        )
    return out


def _check_text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_COMMENT:
        raise Invalid(f"{field}: text of at most {MAX_COMMENT} characters", field=field)
    return value.strip()


def save_review(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    allocation_id: int,
    *,
    scores: Any,
    comments: Any = None,
    overall_comment: Any = "",
    submit: bool = False,
    assignment: str | None = None,
) -> dict[str, Any]:
    """Save a draft, or submit; a submitted review stays editable until the due date.
    ``assignment``: the round the caller named (the URL does); another round's is not found."""
    require(actor, "review.take", cohort.id)
    alloc = session.get(Allocation, allocation_id)
    if alloc is None or alloc.reviewer_id != actor.member_id:
        raise NotFound(f"no review {allocation_id} assigned to you", field="allocation_id")
    rnd = session.get_one(ReviewRound, alloc.round_id)
    if (
        rnd.cohort_id != cohort.id
        or alloc.status not in LIVE
        or (assignment is not None and rnd.assignment != assignment)
    ):
        raise NotFound(f"no review {allocation_id} assigned to you", field="allocation_id")
    due = effective_due(rnd, alloc)
    if rnd.status != "open":
        raise Conflict(f"the review round for {rnd.assignment!r} is closed")
    if due is not None and utcnow() > due:
        raise Conflict(
            f"reviews were due {due:%Y-%m-%d %H:%M} UTC; ask your facilitator", field="due"
        )
    criteria = rnd.rubric.criteria if rnd.rubric else []
    clean_scores = _check_scores(criteria, scores, complete=submit)
    if comments is not None and not isinstance(comments, dict):
        raise Invalid("comments: an object of criterion -> text", field="comments")
    clean_comments = {}
    for cid, text in (comments or {}).items():
        if cid not in {c["id"] for c in criteria}:
            raise Invalid(f"no criterion {cid!r} in the rubric", field=f"comments.{cid}")
        clean_comments[cid] = _check_text(text, f"comments.{cid}")
    overall = _check_text(overall_comment, "overall_comment")
    if submit and rnd.settings.get("required_comments", True) and alloc.kind != "calibration":
        missing = [c["id"] for c in criteria if not clean_comments.get(c["id"])]
        if missing:
            raise Invalid(
                f"a comment is required for each criterion: {', '.join(missing)}",
                field=f"comments.{missing[0]}",
            )
    review = session.scalar(select(Review).where(Review.allocation_id == alloc.id))
    was_submitted = review is not None and not review.draft
    if review is None:
        review = Review(allocation_id=alloc.id)
        session.add(review)
    review.scores, review.comments, review.overall_comment = clean_scores, clean_comments, overall
    review.updated_at = utcnow()
    if submit:
        review.draft = False
        review.submitted_at = review.submitted_at or utcnow()
        alloc.status = "submitted"
    elif was_submitted:
        raise Conflict("this review is submitted; edit it with submit, not as a draft")
    session.flush()
    record(
        session,
        cohort.id,
        actor.member_id,
        "review.submit" if submit else "review.draft",
        review,
        allocation=alloc.id,
    )
    return _review_dict(review, editable=True)


def rate_review(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    review_id: int,
    helpfulness: Any,
    *,
    assignment: str | None = None,
) -> dict[str, Any]:
    """The author's "feedback on feedback" (1-5): it builds the reviewer's reputation."""
    require(actor, "review.take", cohort.id)
    if isinstance(helpfulness, bool) or helpfulness not in (1, 2, 3, 4, 5):
        raise Invalid("helpfulness: a whole number from 1 to 5", field="helpfulness")
    review = session.get(Review, review_id)
    alloc = session.get(Allocation, review.allocation_id) if review else None
    sub = session.get(ReviewSubmission, alloc.submission_id) if alloc else None
    rnd = session.get(ReviewRound, sub.round_id) if sub else None
    if (
        review is None
        or sub is None
        or rnd is None
        or sub.author_id != actor.member_id
        or review.draft
        or rnd.cohort_id != cohort.id
        or (assignment is not None and rnd.assignment != assignment)
    ):
        raise NotFound(f"no review {review_id} of your work", field="review_id")
    if not _own_result(session, rnd, sub, actor)["visible"]:
        raise Forbidden("you can rate reviews once you can read them")
    review.helpfulness = int(helpfulness)
    record(session, cohort.id, actor.member_id, "review.rate", review, helpfulness=helpfulness)
    return {"id": review.id, "helpfulness": review.helpfulness}


def publish_reviewed(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    assignment: str,
    *,
    consent: bool,
    title: Any,
    description: Any = "",
    tags: Any = None,
    license: Any = None,
    rules: CommunitySettings | None = None,
) -> dict[str, Any]:
    """After the round, the author publishes their reviewed notebook to the artifact library
    with the reviews' comments; consent is explicit and recorded."""
    rnd = find_round(session, actor, cohort, assignment)
    if rnd.status != "closed":
        raise Conflict("publish after the review round has closed")
    if consent is not True:
        raise Invalid("publishing needs your explicit consent", field="consent")
    sub = session.scalar(
        select(ReviewSubmission).where(
            ReviewSubmission.round_id == rnd.id, ReviewSubmission.author_id == actor.member_id
        )
    )
    if sub is None:
        raise NotFound(f"you have no submission in the {assignment} round")
    if sub.artifact_id is not None:
        raise Conflict("already published to the library", field="assignment")
    notebook = Path(sub.snapshot) / str(rnd.settings.get("notebook", f"{assignment}.ipynb"))
    if not notebook.is_file():
        raise NotFound(f"{notebook.name} is not in your snapshotted submission")
    own = _own_result(session, rnd, sub, actor)
    summary = "\n\n".join(
        f"**{r['reviewer']}**: {', '.join(f'{k} {v:g}' for k, v in r['scores'].items())}"
        for r in own.get("reviews", [])
    )
    text = _check_text(description, "description")
    if summary:
        text = f"{text}\n\n### Peer reviews\n\n{summary}".strip()
    artifact = share_artifact(
        session,
        actor,
        cohort,
        filename=notebook.name,
        content=notebook.read_bytes(),
        title=title,
        description=text,
        tags=tags,
        license=license,
        rules=rules,
        source="review",
    )
    sub.artifact_id = artifact.id
    record(
        session, cohort.id, actor.member_id, "review.publish", artifact, consent=True, round=rnd.id
    )
    return {"artifact_id": artifact.id, "title": artifact.title}
