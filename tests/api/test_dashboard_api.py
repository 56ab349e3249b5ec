"""GET /api/v1/dashboard through a real ``nbcohort serve``: the facilitator dashboard's
tables, refused to everyone but staff by the service, and right about who is at risk, which
questions wait for an answer, what waits for moderation and who owes reviews."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.models import clock_at, utcnow
from nbcohort.cohorts.services.posts import create_post
from nbcohort.widgets.display.tables import csv_cell, csv_link
from tests.api.test_pages_api import _round
from tests.helpers.community import actor


@pytest.mark.parametrize("who", ["ana", "chi", "sam"])
def test_everyone_but_staff_is_refused(module_world, who):
    with pytest.raises(ClientError) as refused:
        CohortClient(module_world.service.url, module_world.tokens[who], timeout=10).dashboard()
    assert refused.value.status == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [("quiet_days=0", "quiet_days"), ("quiet_days=98", "quiet_days"),
     ("quiet_days=8", "quiet_days"),  # whole weeks only: a day's step would date a read
     ("unanswered_hours=721", "unanswered_hours"), ("unanswered_hours=abc", "unanswered_hours")],
)  # fmt: skip
def test_bad_query_is_422_naming_the_field(module_world, query, field):
    resp = requests.get(
        f"{module_world.service.url}/api/v1/dashboard?{query}",
        headers={"Authorization": f"token {module_world.tokens['fay']}"},
        timeout=10,
    )
    assert resp.status_code == 422 and resp.json()["field"] == field


def test_the_tables_for_staff(service, tokens, store, people, cohort):
    old = utcnow() - timedelta(days=3)
    with store.write() as s, clock_at(old):
        c = s.merge(cohort)
        asked = create_post(s, actor(people["ana"]), c, "module-1/a", "How do I read a CSV?")
        answered = create_post(s, actor(people["ana"]), c, "module-1/a", "And a parquet file?")
        create_post(s, actor(people["ana"]), c, "module-1/a", "Bump", parent_id=asked.id)
        create_post(
            s, actor(people["chi"]), c, "module-1/a", "pd.read_parquet", parent_id=answered.id
        )
    with store.write() as s:
        _round(
            s,
            s.merge(cohort),
            {people["chi"].id: [True, None]},
            [people[n].id for n in ("ana", "ben")],
        )
    ben = CohortClient(service.url, tokens["ben"], timeout=10)
    spam = ben.post("topic/offtopic", '=HYPERLINK("http://evil")')
    fay = CohortClient(service.url, tokens["fay"], timeout=10)
    fay.moderate(spam["id"], "hide", "spam")
    flagged = ben.post("topic/offtopic", "borderline")
    CohortClient(service.url, tokens["ana"], timeout=10).flag(flagged["id"], "rude")
    got = fay.dashboard()
    risk = {r["member"]: r["reasons"] for r in got["at_risk"]}
    assert risk == {"Chi Nguyen": ["owes 1 review(s)"]}  # ana and ben acted; chi owes one
    # When a member was last active may be a read: never shown per person.
    assert all(set(r) == {"member", "username", "team", "role", "reasons"} for r in got["at_risk"])
    assert [u["post_id"] for u in got["unanswered"]] == [asked.id]  # a self-reply is no answer
    queue = {q["post_id"]: q for q in got["moderation"]}
    assert queue[spam["id"]]["hidden"] and queue[spam["id"]]["reason"] == "spam"
    assert queue[flagged["id"]]["open_flags"] == 1 and not queue[flagged["id"]]["hidden"]
    assert [(r["reviewer"], r["given"], r["submitted"]) for r in got["reviews_owed"]] == [
        ("Chi Nguyen", 2, 1)
    ]
    quiet = fay.dashboard(quiet_days=14, unanswered_hours=720)
    assert quiet["unanswered"] == []
    ivo = CohortClient(service.url, tokens["ivo"], timeout=10)
    assert ivo.dashboard()["at_risk"] == got["at_risk"]


def test_csv_keeps_hostile_text_as_text():
    assert csv_cell('=HYPERLINK("http://evil")') == '\'=HYPERLINK("http://evil")'
    assert csv_cell("-2+3") == "'-2+3" and csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("plain") == "plain" and csv_cell(3) == 3 and csv_cell(None) is None
    link = csv_link([{"member": "=cmd", "n": 1}], ["member", "n"], 'a"b.csv')
    assert 'download="a&quot;b.csv"' in link


def test_the_moderation_table_holds_held_posts_and_open_appeals(service, tokens, store, cohort):
    from tests.helpers.moderation import set_charter

    set_charter(store, cohort.id, hold_first_posts=1)
    CohortClient(service.url, tokens["ana"], timeout=10).post("module-1/a", "Held: my first")
    fay = CohortClient(service.url, tokens["fay"], timeout=10)
    chi = CohortClient(service.url, tokens["chi"], timeout=10)  # a champion is never held
    rude = chi.post("topic/offtopic", "Rude words")
    fay.moderate(rude["id"], "hide", "rude")
    chi.appeal("I meant it **kindly**", post_id=rude["id"])
    rows = fay.dashboard()["moderation"]
    kinds = {r["kind"]: r for r in rows}
    assert set(kinds) == {"held post", "hidden", "appeal"}
    assert kinds["held post"]["author"] == "Ana Souza"
    assert kinds["held post"]["excerpt"] == "Held: my first"
    assert kinds["hidden"]["reason"] == "rude" and kinds["hidden"]["post_id"] == rude["id"]
    appeal = kinds["appeal"]
    assert appeal["excerpt"] == "I meant it kindly" and appeal["post_id"] == rude["id"]
    assert [r["created_at"] for r in rows] == sorted((r["created_at"] for r in rows), reverse=True)
    [decided] = fay.moderation_queue()["appeals"]
    fay.decide_appeal(decided["id"], "deny", "No")
    assert "appeal" not in {r["kind"] for r in fay.dashboard()["moderation"]}
