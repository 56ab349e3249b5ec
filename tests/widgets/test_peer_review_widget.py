"""``peer_review()`` against a real service over a real review round, driven as a learner's
clicks drive it: what the store holds afterwards and what the widget shows."""

from __future__ import annotations

import time

import ipywidgets as w
import pytest
from sqlalchemy import select

from nbcohort.cohorts.models import Allocation, Artifact, Member, Review, ReviewRound
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.review_rounds import set_override
from nbcohort.widgets import _connection, peer_review
from nbcohort.widgets.peer_review import PeerReview, place_file
from tests.helpers.peer_course import ASSIGNMENT
from tests.helpers.review_service import CRITERIA, KNOWN, Live


@pytest.fixture
def as_member(monkeypatch, tmp_path):
    """Switch the kernel's identity; the notebook's working directory is ``tmp_path``."""
    monkeypatch.chdir(tmp_path)

    def use(run: Live, username: str) -> None:
        _connection.reset()
        monkeypatch.setenv("NBCOHORT_URL", run.service.url)
        monkeypatch.setenv("NBCOHORT_TOKEN", run.dbs.tokens[username])

    yield use
    _connection.reset()


def stored(run: Live, allocation_id: int) -> Review | None:
    with run.store.read() as s:
        return s.scalar(select(Review).where(Review.allocation_id == allocation_id))


def choose(form, scores, comments=None):
    for f in form.fields:
        f.level.value = scores.get(f.cid)
        f.comment.value = (comments or {}).get(f.cid, "")


def test_offline_and_headless_are_one_calm_line(monkeypatch):
    _connection.reset()
    monkeypatch.setenv("NBCOHORT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NBCOHORT_TOKEN", "nbc_whatever")
    started = time.monotonic()
    widget = peer_review(ASSIGNMENT)
    assert time.monotonic() - started < 2.5
    assert isinstance(widget, w.HTML) and "community offline" in widget.value
    _connection.reset()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("NBCOHORT_URL", "http://10.255.255.1:1")  # would hang if contacted
    started = time.monotonic()
    assert "while nbgrader runs" in peer_review(ASSIGNMENT).value
    assert time.monotonic() - started < 0.5
    _connection.reset()


def test_place_file_never_overwrites_an_edited_file(tmp_path):
    first = place_file(tmp_path, "sub/a.ipynb", b"packet")
    assert first == tmp_path / "sub" / "a.ipynb"
    assert place_file(tmp_path, "sub/a.ipynb", b"packet") == first  # same content: reused
    first.write_bytes(b"my notes")
    beside = place_file(tmp_path, "sub/a.ipynb", b"packet")
    assert beside.name == "a (2).ipynb" and beside.read_bytes() == b"packet"
    assert first.read_bytes() == b"my notes"
    assert place_file(tmp_path, "sub/a.ipynb", b"packet") == beside
    for bad in ("../x", "/etc/x", "a/../../x", ""):
        with pytest.raises(ValueError, match="unsafe path"):
            place_file(tmp_path, bad, b"x")


@pytest.mark.slow
def test_inbox_packets_and_calibration(live, as_member, tmp_path):
    run = live("open")
    as_member(run, "ana")
    pr = peer_review(ASSIGNMENT)
    assert isinstance(pr, PeerReview)
    assert "0 of 3 submitted" in pr.header.value and "reviews due" in pr.header.value
    assert [r.item["kind"] for r in pr.rows] == ["calibration", "peer", "peer"]
    assert "Calibration item" in pr.rows[0].summary.value
    assert "Peer packet 1" in pr.rows[1].summary.value
    assert {r.state for r in pr.rows} == {"not started"}
    assert "round closes" in pr.author.summary.value
    assert pr.publisher.layout.display == "none"  # only after the round has closed

    row = pr.rows[1]
    [written] = row.open_packet()
    rel = f"peer-review/{ASSIGNMENT}/{row.code}/{ASSIGNMENT}.ipynb"
    assert written == tmp_path / rel
    assert rel in row.link.value
    assert "an answer of quality 2" in written.read_text("utf-8")
    written.write_text("my notes while reviewing", "utf-8")
    [again] = row.open_packet()
    assert again.name == f"{ASSIGNMENT} (2).ipynb"
    assert written.read_text("utf-8") == "my notes while reviewing"

    cal = pr.rows[0]
    cal.toggle()
    assert cal.form.layout.display is None
    assert all(f.compare.value == "" for f in cal.form.fields)
    choose(cal.form, {"question": 2.0, "evidence": 2.0, "recommendation": 2.0})
    cal.form.submit_button.click()  # calibration needs no comments
    review = stored(run, cal.item["allocation_id"])
    assert review is not None and review.draft is False
    assert cal.state == "submitted" and "1 of 3 submitted" in pr.header.value
    compare = {f.cid: f.compare.value for f in cal.form.fields}
    assert "Your score 2 · instructor's score 2" in compare["question"]
    assert "Your score 2 · instructor's score 1" in compare["evidence"]
    assert set(compare) == set(KNOWN)
    assert cal.form.submit_button.description == "Update review"
    assert cal.form.save_button.layout.display == "none"


@pytest.mark.slow
def test_rubric_form_draft_validation_and_submit(live, as_member):
    run = live("open")
    as_member(run, "ben")
    pr = peer_review(ASSIGNMENT)
    row, other = pr.rows[1], pr.rows[2]
    aid = row.item["allocation_id"]
    first = row.form.fields[0]
    assert first.level.options[-1][0] == "3 · Strong"
    assert "named decision" in first.level.tooltips[-1]  # the descriptor as the tooltip
    first.level.value = 3.0
    assert "named decision" in first.descriptor.value  # and shown once chosen
    first.comment.value = "A clear question about <b>backlog</b>"
    row.form.save_button.click()
    draft = stored(run, aid)
    assert draft.draft is True and draft.scores == {"question": 3.0}
    assert row.state == "draft" and "draft saved" in row.form.status.value

    other.form.fields[0].comment.value = "half-written, not saved yet"
    row.form.submit_button.click()  # the service refuses: scores and comments missing
    assert "score every criterion" in row.form.status.value
    assert "score every criterion" in row.form.fields[1].error.value
    assert "Traceback" not in row.form.status.value
    assert stored(run, aid).draft is True
    choose(row.form, {"question": 3.0, "evidence": 1.0, "recommendation": 2.0},
           {"question": "Clear.", "evidence": "Check the merge."})  # fmt: skip
    row.form.submit_button.click()
    assert "a comment is required" in row.form.status.value
    assert "a comment is required" in row.form.fields[2].error.value
    assert row.form.fields[0].error.value == ""
    row.form.fields[2].comment.value = "Lead with the answer."
    row.form.overall.value = "Useful analysis."
    row.form.submit_button.click()
    done = stored(run, aid)
    assert done.draft is False
    assert done.scores == {"question": 3.0, "evidence": 1.0, "recommendation": 2.0}
    assert done.comments["recommendation"] == "Lead with the answer."
    assert done.overall_comment == "Useful analysis."
    assert "1 of 3 submitted" in pr.header.value and row.state == "submitted"
    assert "You can still edit it until" in row.form.note.value
    # what Ben was typing in another packet's form survives the refresh
    assert other.form.fields[0].comment.value == "half-written, not saved yet"

    again = peer_review(ASSIGNMENT).rows[1]  # a new widget loads the stored review
    assert [f.level.value for f in again.form.fields] == [3.0, 1.0, 2.0]
    assert again.form.overall.value == "Useful analysis."


@pytest.mark.slow
def test_past_the_due_date_the_form_is_locked(live, as_member):
    run = live("open")
    run.move_due(-1)
    as_member(run, "chi")
    row = peer_review(ASSIGNMENT).rows[1]
    assert row.form.submit_button.disabled and row.form.fields[0].level.disabled
    assert "can no longer be changed" in row.form.note.value
    choose(row.form, {c: 1.0 for c in CRITERIA}, {c: "late" for c in CRITERIA})
    row.form.submit_button.click()  # even if a click got through, the service says no
    assert "reviews were due" in row.form.status.value
    assert stored(run, row.item["allocation_id"]) is None


@pytest.mark.slow
def test_author_view_rating_and_publish(live, as_member):
    run = live("closed")
    with run.store.write() as s:  # a reviewer's comment tries to inject markup
        review = s.scalar(
            select(Review)
            .join(Allocation, Review.allocation_id == Allocation.id)
            .where(Allocation.submission.has(author_id=run.dbs.members["ana"]))
            .order_by(Review.id)
        )
        review.comments = {**review.comments, "evidence": "<script>alert(1)</script>**ok**"}
        set_override(
            s, Actor.system(), s.scalars(select(ReviewRound)).one(),
            s.get_one(Member, run.dbs.members["ana"]), {"question": 3.0}, "Checked in class",
        )  # fmt: skip
    as_member(run, "ana")
    pr = peer_review(ASSIGNMENT)
    text = pr.author.summary.value
    assert "Result:" in text and " of 9</b>" in text and "Final: " in text
    assert "Question and context" in text  # per-criterion scores, with the rubric's titles
    assert (
        "Instructor's score: Question and context <b>3</b>" in text and "Checked in class" in text
    )
    assert "round closed" in pr.header.value
    assert len(pr.author.cards) == 2
    bodies = "".join(card.body.value for card in pr.author.cards)
    assert "Reviewer A" in bodies and "<strong>question</strong>" in bodies
    assert "<script" not in bodies and "<strong>ok</strong>" in bodies
    card = pr.author.cards[0]
    assert card.rating.value is None
    card.rating.value = 5
    with run.store.read() as s:
        assert s.get_one(Review, card.review["id"]).helpfulness == 5
    assert "thanks" in card.status.value

    form = pr.publisher
    assert form.layout.display is None and form.consent.value is False
    form.title.value = "Support backlog, reviewed"
    form.go.click()
    assert "explicit consent" in form.status.value
    with run.store.read() as s:
        assert s.scalars(select(Artifact)).all() == []
    form.consent.value = True
    form.go.click()
    assert "published as artifact" in form.status.value and form.go.disabled
    with run.store.read() as s:
        assert s.scalars(select(Artifact.title)).all() == ["Support backlog, reviewed"]

    as_member(run, "dara")  # left a review undone: told why, nothing to rate
    pr = peer_review(ASSIGNMENT)
    assert "Finish your own reviews" in pr.author.summary.value and pr.author.cards == []
    assert pr.rows[-1].form.submit_button.disabled  # the round has closed


@pytest.mark.slow
def test_no_round_is_one_line(live, as_member):
    run = live("open")
    as_member(run, "ana")
    widget = peer_review("project-9")
    assert isinstance(widget, w.HTML)
    assert "No review round for project-9 yet" in widget.value
