"""Moderation over HTTP, against ``nbcohort serve``, on SQLite and PostgreSQL: a held first
post seen by its author alone, approved from the queue; 429 with Retry-After for a new member
over the hour's posts; the queue refused to learners and sponsors; appeals once; bad input
named by field."""

from __future__ import annotations

import pytest
import requests

from nbcohort.cohorts.client import ClientError, CohortClient
from tests.helpers.moderation import set_charter

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


def clients(service, tokens) -> dict[str, CohortClient]:
    return {who: CohortClient(service.url, token, timeout=10) for who, token in tokens.items()}


def test_a_held_first_post_is_its_authors_alone_until_a_champion_approves(
    service, tokens, store, cohort
):
    set_charter(store, cohort.id, hold_first_posts=1)
    c = clients(service, tokens)
    held = c["ana"].post(ANCHOR, "Wombat: my first question", key="draft-1")
    assert held["held"] is True and held["status_text"] == "waiting for approval"
    again = c["ana"].post(ANCHOR, "Wombat: my first question", key="draft-1")
    assert again["id"] == held["id"]  # a resend is the same held post
    assert [h["id"] for h in c["ana"].thread(ANCHOR)["held"]] == [held["id"]]
    for who in ("ben", "chi", "fay", "sam"):
        page = c[who].thread(ANCHOR)
        assert page["posts"] == [] and page["held"] == [] and page["total"] == 0
        assert c[who].search("Wombat")["posts"] == []
    assert c["ben"].request("GET", "/api/v1/threads")["threads"] == []
    for who in ("ana", "ben", "sam"):
        with pytest.raises(ClientError) as refused:
            c[who].moderation_queue()
        assert refused.value.status == 403
        with pytest.raises(ClientError) as refused:
            c[who].approve_held(held["id"])
        assert refused.value.status == 403
    queue = c["chi"].moderation_queue()
    assert [h["id"] for h in queue["held"]] == [held["id"]] and queue["can"]["approve"]
    post = c["chi"].approve_held(held["id"])
    assert post["author"]["username"] == "ana"
    with pytest.raises(ClientError) as twice:
        c["fay"].approve_held(held["id"])
    assert (twice.value.status, twice.value.field) == (409, "held_id")
    assert [p["id"] for p in c["ben"].thread(ANCHOR)["posts"]] == [post["id"]]
    assert c["ana"].thread(ANCHOR)["held"] == []
    with pytest.raises(ClientError) as missing:
        c["chi"].approve_held(2**31 - 1)
    assert missing.value.status == 404


def test_a_new_member_over_the_hour_gets_429_with_retry_after(service, tokens, store, cohort):
    set_charter(store, cohort.id, posts_per_hour=1)
    c = clients(service, tokens)
    c["ana"].post(ANCHOR, "one")
    resp = requests.post(
        f"{service.url}/api/v1/posts",
        json={"anchor": ANCHOR, "body": "two"},
        headers={"Authorization": f"token {tokens['ana']}"},
        timeout=10,
    )
    assert resp.status_code == 429
    assert 3500 <= int(resp.headers["Retry-After"]) <= 3600
    body = resp.json()
    assert body["error"] == "rate_limited" and "post again at" in body["message"]
    assert c["chi"].post(ANCHOR, "champions are not limited")["id"]
    mine = c["ana"].my_moderation()
    assert mine["standing"]["new"] is True and mine["standing"]["retry_after"] > 0


def test_rejecting_and_appealing_with_bad_input_named(service, tokens, store, cohort):
    set_charter(store, cohort.id, hold_first_posts=1)
    c = clients(service, tokens)
    held = c["ana"].post(ANCHOR, "first")
    path = f"/api/v1/moderation/held/{held['id']}/reject"
    for body, status, field in [
        ({}, 422, "reason"),
        ({"reason": ""}, 422, "reason"),
        ({"reason": "x" * 100_000}, 422, "reason"),
        ({"reason": 7}, 422, "reason"),
    ]:
        with pytest.raises(ClientError) as refused:
            c["chi"].request("POST", path, json=body)
        assert (refused.value.status, refused.value.field) == (status, field), body
    rejected = c["chi"].reject_held(held["id"], "<script>x</script>Please introduce yourself first")
    assert "<script" not in rejected["reason_html"]
    shown = c["ana"].thread(ANCHOR)["held"][0]
    assert shown["status_text"] == "not approved" and "introduce" in shown["reason_html"]
    with pytest.raises(ClientError) as others:
        c["ben"].appeal("let her post", held_id=held["id"])
    assert others.value.status == 403
    appeal = c["ana"].appeal("I did, in another thread", held_id=held["id"])
    with pytest.raises(ClientError) as second:
        c["ana"].appeal("again", held_id=held["id"])
    assert (second.value.status, second.value.field) == (409, "held_id")
    for body, field in [({"text": "x", "post_id": "1"}, "post_id"), ({"held_id": 1}, "text")]:
        with pytest.raises(ClientError) as refused:
            c["ana"].request("POST", "/api/v1/appeals", json=body)
        assert (refused.value.status, refused.value.field) == (422, field)
    assert [a["id"] for a in c["fay"].moderation_queue()["appeals"]] == [appeal["id"]]
    for who in ("chi", "ana"):
        with pytest.raises(ClientError) as refused:
            c[who].decide_appeal(appeal["id"], "grant", "ok")
        assert refused.value.status == 403
    with pytest.raises(ClientError) as refused:
        c["fay"].request(
            "POST",
            f"/api/v1/appeals/{appeal['id']}/decision",
            json={"decision": "maybe", "reason": "x"},
        )
    assert (refused.value.status, refused.value.field) == (422, "decision")
    decided = c["fay"].decide_appeal(appeal["id"], "deny", "not yet")
    assert decided["status"] == "denied"
    assert c["ana"].my_moderation()["appeals"][0]["answer_html"].startswith("<p>not yet")
    assert c["ana"].charter()["code_of_conduct"].count("no harassment") == 1


def test_a_held_answer_to_a_micro_prompt_is_not_counted_for_others(service, tokens, store, cohort):
    from nbcohort.cohorts.models import Prompt

    set_charter(store, cohort.id, hold_first_posts=1)
    with store.write() as s:
        s.add(Prompt(cohort_id=cohort.id, key="day-1", text="What did you try?"))
    c = clients(service, tokens)
    held = c["ana"].answer_prompt("day-1", "Platypus: I tried read_csv")
    assert held["held"] is True and held["anchor"] == "prompt/day-1"
    for who in ("ben", "chi"):
        shown = c[who].prompt("day-1")
        assert shown["answer_count"] == 0 and shown["answers"] == []
    assert c["ana"].prompt("day-1")["my_answer"] is None
    c["fay"].approve_held(held["id"])
    assert c["ana"].prompt("day-1")["my_answer"]["html"].count("Platypus") == 1
    assert c["fay"].prompt("day-1")["answer_count"] == 1
