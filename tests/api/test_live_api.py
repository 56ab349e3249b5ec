"""The watch route live widgets share (``POST /api/v1/watch``), against ``nbcohort serve`` on
SQLite and PostgreSQL: it answers at once when a mark is already stale, wakes when another
member or another process changes what is watched, answers empty after the wait, and refuses
hostile input and what the watcher may not read."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.services.auth import Actor, mint_token
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.services.posts import create_post
from nbcohort.cohorts.services.prompts import sync_prompts
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

ANCHOR = "module-1/reading-files"


def client(service: Any, token: str) -> CohortClient:
    return CohortClient(service.url, token, timeout=40, retries=0)


def timed(call: Any) -> tuple[dict[str, Any], float]:
    start = time.monotonic()
    answer = call()
    return answer, time.monotonic() - start


def test_a_stale_mark_is_answered_at_once(service, tokens):
    ana, ben = client(service, tokens["ana"]), client(service, tokens["ben"])
    ana.post(ANCHOR, "first")
    answer, took = timed(lambda: ben.watch({ANCHOR: 0, "module-1/empty": 0}, wait=20))
    assert answer["changed"] is True and took < 2
    version = answer["threads"][ANCHOR]
    assert version >= 1 and "module-1/empty" not in answer["threads"]
    assert ben.thread(ANCHOR)["version"] == version  # the page carries the same mark
    answer, took = timed(lambda: ben.watch({ANCHOR: version}, wait=1))
    assert answer == {"changed": False} and 0.9 < took < 3


def test_a_post_reply_or_reaction_by_another_member_wakes_the_watch(service, tokens):
    ana, ben = client(service, tokens["ana"]), client(service, tokens["ben"])
    post = ana.post(ANCHOR, "first")
    with ThreadPoolExecutor(1) as pool:
        for act in (
            lambda: ana.post(ANCHOR, "second"),
            lambda: ana.post(ANCHOR, "a reply", parent_id=post["id"]),
            lambda: ana.react(post["id"], "helpful"),
        ):
            version = ben.thread(ANCHOR)["version"]
            waiting = pool.submit(timed, lambda v=version: ben.watch({ANCHOR: v}, wait=20))
            time.sleep(0.5)
            act()
            answer, took = waiting.result(30)
            assert answer["changed"] is True and answer["threads"][ANCHOR] > version
            assert took < 3.0  # woken by the write, not by the end of the wait


def test_a_write_by_another_process_wakes_the_watch(service, tokens, store, people, cohort):
    """The CLI or the cadence tick writes straight to the database: the service hears it
    (PostgreSQL's notice, or its periodic check of the waiting marks on SQLite)."""
    ben = client(service, tokens["ben"])
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(timed, lambda: ben.watch({ANCHOR: 0}, wait=20))
        time.sleep(0.5)
        with store.write() as s:
            create_post(s, Actor.of(s.merge(people["ana"])), s.merge(cohort), ANCHOR, "via CLI")
        answer, took = waiting.result(30)
    assert answer["changed"] is True and took < 5


def test_a_mention_wakes_the_mentioned_members_notifications(service, tokens):
    ana, ben = client(service, tokens["ana"]), client(service, tokens["ben"])
    mark = ben.notification_feed()["mark"]
    assert mark == "0:0"
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(timed, lambda: ben.watch({}, mark, wait=20))
        time.sleep(0.5)
        ana.post(ANCHOR, "thanks @ben")
        answer, took = waiting.result(30)
    assert answer["changed"] is True and took < 3
    assert answer["notifications"] == ben.notification_feed()["mark"] != mark
    # Reading them changes the mark too (another notebook of Ben's marked them read).
    ben.mark_notifications_read()
    answer = ben.watch({}, answer["notifications"], wait=5)
    assert answer["changed"] is True and answer["notifications"].endswith(":0")


def test_another_cohort_never_wakes_a_watch(service, tokens, store, cohort):
    with store.write() as s:
        other = create_cohort(s, SYSTEM, f"autumn-{cohort.id}", "Autumn")
        zed = add_member(s, SYSTEM, other, name="Zed", email="zed@x.org", username="zed")
        s.flush()
        zed_token = mint_token(s, SYSTEM, zed, "test")
    ana, zed_client = client(service, tokens["ana"]), client(service, zed_token)
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(lambda: zed_client.watch({ANCHOR: 0}, "0:0", wait=2.5))
        time.sleep(0.3)
        ana.post(ANCHOR, "@zed are you there?")  # not a member of ana's cohort: no mention
        assert waiting.result(30) == {"changed": False}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "threads"),  # nothing to watch
        ({"threads": [ANCHOR]}, "threads"),
        ({"threads": {ANCHOR: -1}}, "threads"),
        ({"threads": {ANCHOR: "1"}}, "threads"),
        ({"threads": {ANCHOR: 2**31}}, "threads"),
        ({"threads": {ANCHOR: 1.5}}, "threads"),
        ({"threads": {f"m/{n}": 0 for n in range(51)}}, "threads"),
        ({"threads": {"x" * 201: 0}}, "threads"),
        ({"threads": {"../etc/passwd": 0}}, "threads"),
        ({"threads": {"<script>": 0}}, "threads"),
        ({"threads": {ANCHOR: 0}, "wait": 61}, "wait"),
        ({"threads": {ANCHOR: 0}, "wait": -1}, "wait"),
        ({"threads": {ANCHOR: 0}, "wait": "25"}, "wait"),
        ({"threads": {ANCHOR: 0}, "wait": True}, "wait"),
        ({"threads": {ANCHOR: 0}, "wait": 1e308}, "wait"),
        ({"notifications": "abc"}, "notifications"),
        ({"notifications": "1:2:3"}, "notifications"),
        ({"notifications": 5}, "notifications"),
        ({"notifications": "9" * 11 + ":1"}, "notifications"),
    ],
)
def test_hostile_input_is_refused_naming_the_field(module_world, body, field):
    ana = client(module_world.service, module_world.tokens["ana"])
    with pytest.raises(ClientError) as refused:
        ana.request("POST", "/api/v1/watch", json=body)
    assert (refused.value.status, refused.value.field) == (422, field)


def test_no_token_no_watch(service):
    with pytest.raises(ClientError) as refused:
        client(service, "not-a-token").watch({ANCHOR: 0}, wait=1)
    assert refused.value.status == 401


def test_a_prompts_answers_are_watched_only_by_who_may_read_them(service, tokens, store, cohort):
    with store.write() as s:
        sync_prompts(s, SYSTEM, s.merge(cohort), {"day-1": "What did you try?"})
    ana, ben = client(service, tokens["ana"]), client(service, tokens["ben"])
    fay = client(service, tokens["fay"])
    ana.answer_prompt("day-1", "I tried read_csv")
    with pytest.raises(ClientError) as refused:
        ben.watch({"prompt/day-1": 0}, wait=1)  # would tell him someone answered
    assert (refused.value.status, refused.value.field) == (403, "threads")
    with pytest.raises(ClientError) as refused:
        ben.watch({"prompt/day-99": 0}, wait=1)
    assert (refused.value.status, refused.value.field) == (404, "threads")
    assert ana.watch({"prompt/day-1": 0}, wait=5)["changed"] is True  # she answered
    assert fay.watch({"prompt/day-1": 0}, wait=5)["changed"] is True  # staff
    ben.answer_prompt("day-1", "groupby")
    assert ben.watch({"prompt/day-1": 0}, wait=5)["changed"] is True


def test_one_member_holds_a_bounded_number_of_watches(service, tokens):
    """LiveSettings.max_watches_per_member (8): a ninth is refused, the others still answer."""
    ben = client(service, tokens["ben"])
    version = ben.thread(ANCHOR)["version"]
    with ThreadPoolExecutor(8) as pool:
        parked = [pool.submit(lambda: ben.watch({ANCHOR: version}, wait=4)) for _ in range(8)]
        time.sleep(1.5)
        with pytest.raises(ClientError) as refused:
            ben.watch({ANCHOR: version}, wait=1)
        assert refused.value.status == 429 and "max_watches_per_member" in refused.value.message
        assert [f.result(30) for f in parked] == [{"changed": False}] * 8
    assert ben.watch({ANCHOR: version}, wait=0.5) == {"changed": False}  # freed again
