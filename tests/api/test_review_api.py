"""The peer-review HTTP API against a real ``nbcohort serve`` over a real review round:
four learners submit project-1 through nbgrader, the instructor opens a round with a
calibration item; one copy of that store stays open, another is reviewed and closed."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from nbcohort.cohorts.client import ClientError
from nbcohort.cohorts.models import (
    Allocation,
    Artifact,
    Review,
)
from tests.helpers.peer_course import ASSIGNMENT
from tests.helpers.review_service import CRITERIA, KNOWN

pytestmark = pytest.mark.slow


def _complete(n: int = 2) -> tuple[dict[str, float], dict[str, str]]:
    return {c: float(n) for c in CRITERIA}, {c: f"On {c}: fine." for c in CRITERIA}


def refused(call: object, *args: object, **kwargs: object) -> ClientError:
    with pytest.raises(ClientError) as exc:
        call(*args, **kwargs)  # type: ignore[operator]
    return exc.value


def test_inbox_lists_calibration_first_with_the_rubric(live):
    run = live("open")
    inbox = run.clients["ana"].review_inbox(ASSIGNMENT)
    assert inbox["status"] == "open" and inbox["assignment"] == ASSIGNMENT
    assert [c["id"] for c in inbox["rubric"]] == list(CRITERIA)
    assert [i["kind"] for i in inbox["inbox"]] == ["calibration", "peer", "peer"]
    assert all(i["author"] is None for i in inbox["inbox"])  # double-blind
    first = inbox["inbox"][0]
    assert first["review"] == {"scores": {}, "comments": {}, "overall_comment": "",
                               "draft": True, "submitted_at": None, "editable": True}  # fmt: skip
    assert "known_scores" not in first  # only after the reviewer submits
    assert inbox["own"] == {
        "submission_id": inbox["own"]["submission_id"],
        "visible": False,
        "reason": "Your reviews and result appear when the round closes.",
    }
    assert refused(run.clients["ana"].review_inbox, "project-9").status == 404


def test_only_the_assigned_reviewer_gets_a_packet(live):
    run = live("open")
    mine = run.allocation_of("ana", "ben") or run.allocation_of("ana", "chi")
    assert mine is not None
    files = run.clients["ana"].review_packet(ASSIGNMENT, mine.id)
    assert list(files) == [f"{ASSIGNMENT}.ipynb"]
    text = files[f"{ASSIGNMENT}.ipynb"].decode("utf-8")
    assert "an answer of quality 2" in text and "/home/" not in text  # anonymized
    for other in ("ben", "chi", "dara"):  # an allocation has exactly one reviewer
        err = refused(run.clients[other].review_packet, ASSIGNMENT, mine.id)
        assert (err.status, err.field) == (404, "allocation_id")
        assert refused(run.clients[other].save_review, ASSIGNMENT, mine.id, {}).status == 404
    # the URL names the round: the same allocation under another assignment is not found
    assert refused(run.clients["ana"].review_packet, "project-9", mine.id).status == 404
    resp = requests.get(f"{run.service.url}/api/v1/reviews/{ASSIGNMENT}", timeout=5)
    assert resp.status_code == 401
    resp = requests.put(
        f"{run.service.url}/api/v1/reviews/{ASSIGNMENT}/allocations/{mine.id}",
        data=b"{not json",
        headers={"Authorization": f"token {run.dbs.tokens['ana']}"},
        timeout=5,
    )
    assert (resp.status_code, resp.json()["field"]) == (422, "body")


def test_draft_submit_and_validation_name_the_field(live):
    run = live("open")
    ana = run.clients["ana"]
    peer = run.allocations("ana", "peer")[0]
    err = refused(ana.save_review, ASSIGNMENT, peer.id, {"question": 2.5})
    assert (err.status, err.field) == (422, "scores.question")
    assert "choose one of 0, 1, 2, 3" in err.message
    err = refused(ana.save_review, ASSIGNMENT, peer.id, {"style": 1})
    assert (err.status, err.field) == (422, "scores.style")
    draft = ana.save_review(ASSIGNMENT, peer.id, {"question": 3}, {"question": "Clear *question*"})
    assert draft["draft"] is True and draft["scores"] == {"question": 3.0}
    scores, comments = _complete()
    err = refused(ana.save_review, ASSIGNMENT, peer.id, scores, submit=True)
    assert (err.status, err.field) == (422, "comments.question")  # required; a save sends all
    err = refused(ana.save_review, ASSIGNMENT, peer.id, {"question": 3}, comments, submit=True)
    assert (err.status, err.field) == (422, "scores.evidence")
    done = ana.save_review(ASSIGNMENT, peer.id, scores, comments, "Nice.", submit=True)
    assert done["draft"] is False and done["editable"] is True
    with run.store.read() as s:
        stored = s.scalars(select(Review).where(Review.allocation_id == peer.id)).one()
        assert (stored.draft, stored.scores, stored.overall_comment) == (False, scores, "Nice.")
        assert s.get_one(Allocation, peer.id).status == "submitted"
    # still editable until the due date, by submitting again (never back to a draft)
    ana.save_review(ASSIGNMENT, peer.id, {**scores, "question": 1.0}, comments, submit=True)
    assert refused(ana.save_review, ASSIGNMENT, peer.id, scores, comments).status == 409
    item = next(i for i in ana.review_inbox(ASSIGNMENT)["inbox"] if i["allocation_id"] == peer.id)
    assert item["review"]["scores"]["question"] == 1.0 and item["review"]["draft"] is False


def test_calibration_shows_the_instructors_scores_after_submit(live):
    run = live("open")
    ana = run.clients["ana"]
    cal = run.allocations("ana", "calibration")[0]
    ana.save_review(ASSIGNMENT, cal.id, {"question": 2}, submit=False)
    item = ana.review_inbox(ASSIGNMENT)["inbox"][0]
    assert item["review"]["draft"] is True and "known_scores" not in item
    scores = {"question": 2.0, "evidence": 2.0, "recommendation": 2.0}
    ana.save_review(ASSIGNMENT, cal.id, scores, submit=True)  # no comments needed here
    item = ana.review_inbox(ASSIGNMENT)["inbox"][0]
    assert item["known_scores"] == KNOWN


def test_review_after_the_due_date_is_409(live):
    run = live("open")
    peer = run.allocations("ben", "peer")[0]
    run.move_due(-1)
    scores, comments = _complete()
    err = refused(run.clients["ben"].save_review, ASSIGNMENT, peer.id, scores, comments,
                  submit=True)  # fmt: skip
    assert (err.status, err.field) == (409, "due")
    assert "ask your facilitator" in err.message
    items = run.clients["ben"].review_inbox(ASSIGNMENT)["inbox"]
    assert {i["review"]["editable"] for i in items} == {False}
    with run.store.read() as s:
        assert s.scalars(select(Review)).all() == []


def test_rating_before_the_reviews_are_visible_is_403(live):
    run = live("open")
    alloc = run.allocation_of("ben", "ana") or run.allocation_of("chi", "ana")
    assert alloc is not None
    reviewer = next(u for u, mid in run.dbs.members.items() if mid == alloc.reviewer_id)
    scores, comments = _complete()
    review = run.clients[reviewer].save_review(ASSIGNMENT, alloc.id, scores, comments, submit=True)
    err = refused(run.clients["ana"].rate_review, ASSIGNMENT, review["id"], 5)
    assert err.status == 403
    err = refused(run.clients[reviewer].rate_review, ASSIGNMENT, review["id"], 5)
    assert err.status == 404  # not a review of the reviewer's own work
    err = refused(run.clients["ana"].rate_review, ASSIGNMENT, review["id"], 9)
    assert (err.status, err.field) == (422, "helpfulness")


def test_after_close_the_author_reads_rates_and_publishes_with_consent(live):
    run = live("closed")
    ana = run.clients["ana"]
    data = ana.review_inbox(ASSIGNMENT)
    own = data["own"]
    assert data["status"] == "closed" and own["visible"] is True
    assert own["result"]["max_total"] == 9.0 and 0 <= own["result"]["total"] <= 9
    assert {r["reviewer"] for r in own["reviews"]} == {"Reviewer A", "Reviewer B"}
    first = own["reviews"][0]
    assert "<strong>question</strong>" in first["comments_html"]["question"]
    assert first["overall_html"] == "<p>Good work.</p>\n"
    assert ana.rate_review(ASSIGNMENT, first["id"], 4) == {"id": first["id"], "helpfulness": 4}
    with run.store.read() as s:
        assert s.get_one(Review, first["id"]).helpfulness == 4
    # Dara left a review undone: she sees why she cannot read hers, and cannot rate them
    dara = run.clients["dara"].review_inbox(ASSIGNMENT)["own"]
    assert (dara["visible"], dara["reason"]) == (
        False, "Finish your own reviews to see the reviews of your work."
    )  # fmt: skip
    assert "reviews" not in dara and "result" not in dara
    with run.store.read() as s:
        dara_review = s.scalar(
            select(Review.id)
            .join(Allocation, Review.allocation_id == Allocation.id)
            .where(Allocation.submission_id == dara["submission_id"], Allocation.kind == "peer")
        )
    assert refused(run.clients["dara"].rate_review, ASSIGNMENT, dara_review, 3).status == 403
    # reviews are closed for good
    alloc = run.allocations("dara", "peer")[-1]
    scores, comments = _complete()
    err = refused(run.clients["dara"].save_review, ASSIGNMENT, alloc.id, scores, comments,
                  submit=True)  # fmt: skip
    assert err.status == 409

    err = refused(ana.publish_reviewed, ASSIGNMENT, consent=False, title="My project")
    assert (err.status, err.field) == (422, "consent")
    with run.store.read() as s:
        assert s.scalars(select(Artifact)).all() == []
    made = ana.publish_reviewed(ASSIGNMENT, consent=True, title="Ticket backlog analysis",
                                tags=["pandas"])  # fmt: skip
    assert made["title"] == "Ticket backlog analysis"
    with run.store.read() as s:
        artifact = s.get_one(Artifact, made["artifact_id"])
        assert artifact.filename == f"{ASSIGNMENT}.ipynb"
        assert "### Peer reviews" in artifact.description
    err = refused(ana.publish_reviewed, ASSIGNMENT, consent=True, title="Again")
    assert err.status == 409


def test_publish_before_close_is_409(live):
    run = live("open")
    err = refused(run.clients["ana"].publish_reviewed, ASSIGNMENT, consent=True, title="x")
    assert err.status == 409
