"""The two routes the cohort activity page adds, through a real ``nbcohort serve``:
GET /api/v1/threads (active threads with their course links) and GET /api/v1/me/reviews
(the caller's own progress in each peer-review round)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.models import (
    Allocation,
    Review,
    ReviewRound,
    ReviewSubmission,
    utcnow,
)
from nbcohort.cohorts.services.auth import mint_token
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.members import add_member, set_active
from tests.helpers.community import SYSTEM

# One service and database per module and leg; a cohort of its own per test.
from tests.helpers.shared_serve import (  # noqa: F401 - the fixtures
    serve_cohort,
    serve_db_url,
    serve_module_service,
    serve_module_world,
    serve_service,
    serve_store,
)


def test_active_threads_busiest_first_without_hidden_or_prompt_posts(
    service, tokens, store, cohort, people
):
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    ben = CohortClient(service.url, tokens["ben"], timeout=10)
    fay = CohortClient(service.url, tokens["fay"], timeout=10)
    for text in ("one", "two", "three"):
        ana.post("module-1/busy", text)
    quiet = ben.post("module-2/quiet", "only one")
    hidden = ben.post("topic/hidden-only", "will be hidden")
    fay.moderate(hidden["id"], "hide", "off topic")
    got = ben.threads()
    assert [t["anchor"] for t in got] == ["module-1/busy", "module-2/quiet"]
    assert got[0]["posts_in_window"] == 3 and got[0]["posts"] == 3
    assert got[1]["last_post_at"].startswith(quiet["created_at"][:19])
    assert all(t["kind"] != "prompt" for t in got)
    assert fay.threads(limit=1) == got[:1]  # staff too: a count never reveals a hidden post
    # Another cohort's threads do not exist for this one.
    with store.write() as s:
        other = create_cohort(s, SYSTEM, f"other-{cohort.id}", "Other")
        olga = add_member(s, SYSTEM, other, name="Olga", email="olga@example.org", role="learner")
        olga_token = mint_token(s, SYSTEM, olga, "t")
    olga_client = CohortClient(service.url, olga_token, timeout=10)
    olga_client.post("module-1/elsewhere", "x")
    assert [t["anchor"] for t in ana.threads()] == ["module-1/busy", "module-2/quiet"]
    assert [t["anchor"] for t in olga_client.threads()] == ["module-1/elsewhere"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("days=0", "days"), ("days=367", "days"), ("days=x", "days"), ("limit=0", "limit"),
     ("limit=101", "limit"), ("limit=1e9", "limit"), ("days=99999999999999999999", "days")],
)  # fmt: skip
def test_bad_threads_query_is_422_naming_the_field(module_world, query, field):
    resp = requests.get(
        f"{module_world.service.url}/api/v1/threads?{query}",
        headers={"Authorization": f"token {module_world.tokens['ana']}"},
        timeout=10,
    )
    assert resp.status_code == 422 and resp.json()["field"] == field


def test_without_a_token_nothing_is_answered(service):
    for path in ("/api/v1/threads", "/api/v1/me/reviews"):
        assert requests.get(service.url + path, timeout=10).status_code == 401


def _round(s, cohort, reviewers: dict[int, list[bool | None]], authors: list[int]) -> None:
    """A round whose reviewers hold allocations, the i-th to the i-th author's submission:
    True submitted, False a draft, None not started. Each reviewer also has one allocation
    moved to someone else (reassigned), which is no longer theirs."""
    due = utcnow() + timedelta(days=2)
    rnd = ReviewRound(cohort_id=cohort.id, assignment="project-1", due_at=due)
    s.add(rnd)
    s.flush()
    subs = [ReviewSubmission(round_id=rnd.id, author_id=a) for a in authors]
    s.add_all(subs)
    s.flush()
    for reviewer, states in reviewers.items():
        for sub, state in zip(subs, [*states, "moved"], strict=False):
            status = "reassigned" if state == "moved" else "assigned"
            alloc = Allocation(
                round_id=rnd.id, reviewer_id=reviewer, submission_id=sub.id, status=status
            )
            s.add(alloc)
            s.flush()
            if state is not None and state != "moved":
                s.add(Review(allocation_id=alloc.id, draft=not state, scores={"q": 3}))


def test_my_reviews_is_the_callers_own_progress_only(service, tokens, store, people, cohort):
    with store.write() as s:
        c = s.merge(cohort)
        authors = [people[n].id for n in ("chi", "fay", "ivo", "sam")]
        _round(s, c, {people["ana"].id: [True, False, None], people["ben"].id: [True]}, authors)
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    ben = CohortClient(service.url, tokens["ben"], timeout=10)
    chi = CohortClient(service.url, tokens["chi"], timeout=10)
    mine = ana.my_reviews()
    assert [(r["assignment"], r["reviews_given"], r["reviews_submitted"]) for r in mine] == [
        ("project-1", 3, 1)
    ]
    assert set(mine[0]) == {"assignment", "status", "due_at", "reviews_given", "reviews_submitted"}
    assert [(r["reviews_given"], r["reviews_submitted"]) for r in ben.my_reviews()] == [(1, 1)]
    assert chi.my_reviews() == []  # an author with no reviews to write sees no one's progress


def test_a_member_who_left_is_refused(service, tokens, store, people):
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    ana.post("module-1/a", "before leaving")
    with store.write() as s:
        set_active(s, SYSTEM, s.merge(people["ana"]), False)
    deadline = time.monotonic() + 15  # ServiceSettings.auth_cache_seconds (10) at most
    for call in (ana.threads, ana.my_reviews):
        status = 200
        while status == 200:
            assert time.monotonic() < deadline, "a member who left still reads the cohort"
            try:
                call()
                time.sleep(0.5)
            except ClientError as refused:
                status = refused.status
        assert status == 401
    ben = CohortClient(service.url, tokens["ben"], timeout=10)
    assert [t["anchor"] for t in ben.threads()] == ["module-1/a"]  # their words stay
