"""The XSS corpus in peer reviews: every rubric comment and overall comment of a closed round
holds a payload, and each author's ``peer_review()`` view (the reviews they received) shows
them as text without any leaving its text."""

from __future__ import annotations

import html
from itertools import cycle

import pytest
from sqlalchemy import select

from nbcohort.cohorts.models import Allocation, Review, ReviewSubmission
from nbcohort.widgets import _connection
from nbcohort.widgets.peer_review import peer_review
from tests.helpers.peer_course import ASSIGNMENT
from tests.security.test_xss_render import shown
from tests.security.xss import PAYLOADS, escapes

pytestmark = pytest.mark.slow


def test_rubric_comments_are_shown_as_text_to_their_author(live, monkeypatch, tmp_path):
    run = live("closed")
    payloads, received = cycle(PAYLOADS.items()), {}
    with run.store.write() as s:
        rows = s.execute(
            select(Review, ReviewSubmission.author_id)
            .join(Allocation, Review.allocation_id == Allocation.id)
            .join(ReviewSubmission, ReviewSubmission.id == Allocation.submission_id)
            .where(
                Review.draft.is_(False),
                # Dara left a review undone: her reviews are withheld from her (as they must).
                ReviewSubmission.author_id.in_(
                    [run.dbs.members[m] for m in run.dbs.members if m != "dara"]
                ),
            )
            .order_by(Review.id)
        ).all()
        for review, author_id in rows:  # two payloads in each comment, a paragraph each
            for cid in [*review.comments, None]:
                pair = [next(payloads), next(payloads)]
                text = "\n\n".join(t for _p, t in pair)
                if cid is None:
                    review.overall_comment = text
                else:
                    review.comments = {**review.comments, cid: text}
                received.setdefault(author_id, []).extend(p for p, _t in pair)
    assert sum(map(len, received.values())) >= len(PAYLOADS)  # every payload placed
    monkeypatch.chdir(tmp_path)
    by_id = {member_id: name for name, member_id in run.dbs.members.items()}
    found, shown_ids = {}, set()
    for author_id, ids in received.items():
        _connection.reset()
        monkeypatch.setenv("NBCOHORT_URL", run.service.url)
        monkeypatch.setenv("NBCOHORT_TOKEN", run.dbs.tokens[by_id[author_id]])
        try:
            view = peer_review(ASSIGNMENT)
        finally:
            _connection.reset()
        markup, text = shown(view)
        if hits := escapes(markup):
            found[by_id[author_id]] = hits
        seen = html.unescape(markup) + text
        assert [pid for pid in ids if pid not in seen] == [], by_id[author_id]
        shown_ids.update(ids)
    assert found == {}
    assert shown_ids == set(PAYLOADS)
