"""A post sent again under the same request key is written once: services, HTTP and widget.

The case it guards: a member's post is saved, but the answer never reaches them (a timeout
while the community is busy, a connection closed during the commit); they press Post again.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from nbcohort.cohorts.client import CohortClient, ServiceUnavailable
from nbcohort.cohorts.models import Activity, Cohort, Member, Notification, Post, Thread
from nbcohort.cohorts.services import posts
from nbcohort.cohorts.services.errors import Forbidden, Invalid
from nbcohort.cohorts.store import Store
from nbcohort.widgets import _connection, discussion
from tests.helpers.community import actor, posts_held, race

# One service and database per module and leg; a cohort of its own per test.
from tests.helpers.shared_serve import (  # noqa: F401 - the fixtures
    serve_cohort,
    serve_db_url,
    serve_module_service,
    serve_module_world,
    serve_service,
    serve_store,
)

ANCHOR = "module-1/loading-data"


def send(store: Store, who: Member, cohort: Cohort, body: str = "hello", **kw: Any) -> Post:
    with store.write() as s:
        return posts.create_post(s, actor(who), cohort, kw.pop("anchor", ANCHOR), body, **kw)


def counts(store: Store, cohort: Cohort) -> tuple[int, int, int]:
    """The cohort's posts, post.create records and notifications: what a second write would
    add to (the module's tests share one database, each in a cohort of its own)."""
    members = select(Member.id).where(Member.cohort_id == cohort.id)
    with store.read() as s:
        return (
            s.scalar(select(func.count()).where(Post.author_id.in_(members))) or 0,
            s.scalar(
                select(func.count()).where(
                    Activity.verb == "post.create", Activity.cohort_id == cohort.id
                )
            )
            or 0,
            s.scalar(select(func.count()).where(Notification.member_id.in_(members))) or 0,
        )


def test_the_same_post_sent_twice_is_written_once(store, cohort, people) -> None:
    first = send(store, people["ana"], cohort, "thanks @ben", request_key="k-1")
    assert counts(store, cohort) == (1, 1, 1)  # the mention notified ben once
    again = send(store, people["ana"], cohort, "thanks @ben", request_key="k-1")
    assert again.id == first.id
    assert counts(store, cohort) == (1, 1, 1)


def test_a_reply_to_a_reply_sent_again_finds_its_post(store, cohort, people) -> None:
    top = send(store, people["ana"], cohort, "question")
    reply = send(store, people["ben"], cohort, "answer", parent_id=top.id)
    nested = send(store, people["chi"], cohort, "thanks", parent_id=reply.id, request_key="r")
    assert nested.parent_id == top.id  # it joined the top-level post
    again = send(store, people["chi"], cohort, "thanks", parent_id=reply.id, request_key="r")
    assert again.id == nested.id
    assert counts(store, cohort)[0] == 3


def test_keys_belong_to_their_author(store, cohort, people) -> None:
    a = send(store, people["ana"], cohort, "same words", request_key="shared")
    b = send(store, people["ben"], cohort, "same words", request_key="shared")
    assert a.id != b.id
    assert counts(store, cohort)[0] == 2


def test_posts_without_a_key_are_never_matched(store, cohort, people) -> None:
    send(store, people["ana"], cohort, "hello")
    send(store, people["ana"], cohort, "hello")
    assert counts(store, cohort)[0] == 2


@pytest.mark.parametrize(
    "change",
    [
        {"body": "other words"},
        {"anchor": "module-2/elsewhere", "parent_id": None},  # another thread, at its top
        {"parent_id": None},  # the same thread, at its top
        {"parent_id": "other"},  # a reply to another post of the thread
    ],
)
def test_a_key_reused_for_another_post_is_refused(store, cohort, people, change) -> None:
    top = send(store, people["ben"], cohort, "question")
    other = send(store, people["ben"], cohort, "another question")
    send(store, people["ana"], cohort, "words", request_key="once", parent_id=top.id)
    args: dict[str, Any] = {"body": "words", "anchor": ANCHOR, "parent_id": top.id, **change}
    if args["parent_id"] == "other":
        args["parent_id"] = other.id
    before = counts(store, cohort)
    with pytest.raises(Invalid) as info:
        send(store, people["ana"], cohort, args.pop("body"), request_key="once", **args)
    assert info.value.field == "request_key"
    assert "already names your post" in info.value.message
    assert counts(store, cohort) == before


@pytest.mark.parametrize("key", ["", "k" * 65, "clé", "tab\there", "new\nline"])
def test_malformed_keys_are_refused(store, cohort, people, key) -> None:
    with pytest.raises(Invalid) as info:
        send(store, people["ana"], cohort, request_key=key)
    assert info.value.field == "request_key"
    assert counts(store, cohort) == (0, 0, 0)
    assert send(store, people["ana"], cohort, request_key="k" * 64).request_key == "k" * 64


def test_a_resend_after_the_thread_was_locked_still_finds_the_post(store, cohort, people) -> None:
    saved = send(store, people["ana"], cohort, request_key="before-lock")
    with store.write() as s:
        s.execute(
            Thread.__table__.update().where(Thread.cohort_id == cohort.id).values(locked=True)
        )
    assert send(store, people["ana"], cohort, request_key="before-lock").id == saved.id
    with pytest.raises(Forbidden):
        send(store, people["ana"], cohort, "a new post", request_key="after-lock")


def test_the_same_key_at_the_same_moment_is_one_post(store, cohort, people) -> None:
    ana = actor(people["ana"])
    seen: list[int] = []

    def post(s) -> None:
        seen.append(posts.create_post(s, ana, cohort, ANCHOR, "once", request_key="race").id)

    assert race(store, post, post) == []
    assert counts(store, cohort) == (1, 1, 0)
    assert len(seen) == 2 and seen[0] == seen[1]


# --- over HTTP ------------------------------------------------------------------------------


def test_api_answers_a_resend_as_it_answered_the_first(service, tokens, people) -> None:
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    ben = CohortClient(service.url, tokens["ben"], timeout=10)
    first = ana.post(ANCHOR, "hello", key="api-1")
    ben.react(first["id"], "helpful")  # the thread moves on; the answer stays the first one
    again = ana.post(ANCHOR, "hello", key="api-1")
    assert again == first
    assert [p["id"] for p in ben.thread(ANCHOR)["posts"]] == [first["id"]]
    assert ben.thread(ANCHOR)["posts"][0]["reactions"] == {"helpful": 1}


@pytest.mark.parametrize(("key", "message"), [(7, "must be a string"), ("", "1 to 64")])
def test_api_refuses_a_bad_key_by_name(service, tokens, key, message) -> None:
    resp = requests.post(
        service.url + "/api/v1/posts",
        json={"anchor": ANCHOR, "body": "hello", "request_key": key},
        headers={"Authorization": f"token {tokens['ana']}"},
        timeout=10,
    )
    assert resp.status_code == 422
    assert resp.json()["field"] == "request_key"
    assert message in resp.json()["message"]


def wait_for_posts(store: Store, cohort: Cohort, n: int) -> None:
    deadline = time.monotonic() + 15
    while counts(store, cohort)[0] < n:
        assert time.monotonic() < deadline, "the held post never landed"
        time.sleep(0.05)


def test_a_post_whose_answer_timed_out_is_written_once(service, tokens, store, cohort) -> None:
    """The service is slow (another program holds the database), the client gives up, the
    post lands afterwards, and the member sends it again."""
    ana = CohortClient(service.url, tokens["ana"], timeout=0.5)
    with posts_held(store), pytest.raises(ServiceUnavailable):
        ana.post(ANCHOR, "patience", key="slow-1")
    wait_for_posts(store, cohort, 1)
    ana.timeout = 10
    again = ana.post(ANCHOR, "patience", key="slow-1")
    assert counts(store, cohort)[0] == 1
    with store.read() as s:
        mine = select(Post.id).join(Thread).where(Thread.cohort_id == cohort.id)
        assert s.scalar(mine) == again["id"]


def test_the_widget_resends_a_timed_out_post_once(
    monkeypatch, service, tokens, store, cohort
) -> None:
    """Pressing Post again after "community offline" does not post twice; changed text is a
    new post."""
    _connection.reset()
    monkeypatch.setenv("NBCOHORT_URL", service.url)
    monkeypatch.setenv("NBCOHORT_TOKEN", tokens["ana"])
    try:
        d = discussion(ANCHOR)
        d.conn.client.timeout = 0.5
        d.composer.text.value = "first try"
        with posts_held(store):
            assert d.composer.submit() is None
        assert "unreachable" in d.composer.status.value
        assert d.composer.text.value == "first try"  # kept for the second press
        wait_for_posts(store, cohort, 1)
        d.conn.client.timeout = 10
        sent = d.composer.submit()
        assert sent is not None and d.composer.text.value == ""
        assert counts(store, cohort)[0] == 1
        assert len(d.posts.children) == 1
        d.composer.text.value = "first try"  # the same words again, on purpose: a new post
        assert d.composer.submit()["id"] != sent["id"]
        assert counts(store, cohort)[0] == 2
        assert len(d.posts.children) == 2
    finally:
        _connection.reset()
