"""Ideas to pilots and leader nudges over HTTP, against ``nbcohort serve``, as every role: a
learner marks an idea, two others endorse it, the facilitator finds it escalated and makes
it a pilot whose owner posts updates; bad input named by field; another cohort's idea not
found; sponsors read their nudges and reply under a sponsor label."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.models import Cohort, Post, Thread
from nbcohort.cohorts.services.auth import mint_token
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.members import add_member
from tests.helpers.community import SYSTEM
from tests.helpers.rhythm import apply_text, cohort_toml

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
SOON = (date.today() + timedelta(days=20)).isoformat()


def clients(service, tokens) -> dict[str, CohortClient]:
    return {who: CohortClient(service.url, token, timeout=10) for who, token in tokens.items()}


@pytest.fixture
def two(store, cohort):
    """The cohort file sets the threshold at two endorsements."""
    from nbcohort.cohorts.models import utcnow

    text = cohort_toml(slug=cohort.slug, extra="[ideas]\nendorsements = 2\n", steps=False)
    apply_text(store, text, utcnow())


def refused(call, status: int, field: str | None = None) -> ClientError:
    with pytest.raises(ClientError) as err:
        call()
    assert err.value.status == status, err.value.message
    if field is not None:
        assert err.value.field == field, err.value.message
    return err.value


def test_idea_to_pilot_through_the_api(service, tokens, people, two):
    c = clients(service, tokens)
    post = c["ana"].post(ANCHOR, "Idea: a team checklist for cleaning CSV files")
    refused(lambda: c["ben"].mark_idea(post["id"]), 403, "post_id")
    idea = c["ana"].mark_idea(post["id"])
    assert idea["state"] == "open" and idea["threshold"] == 2
    refused(lambda: c["ana"].endorse(idea["id"]), 422, "idea_id")
    assert c["ben"].endorse(idea["id"])["endorsements"] == 1
    err = refused(lambda: c["ben"].endorse(idea["id"]), 409, "idea_id")
    assert "already endorsed" in err.message
    assert c["fay"].ideas(state="escalated") == []
    assert c["chi"].endorse(idea["id"])["state"] == "escalated"
    (listed,) = c["fay"].ideas(state="escalated")
    assert listed["id"] == idea["id"] and listed["can_decide"]
    assert any(n["kind"] == "idea_escalated" for n in c["fay"].notifications())
    shown = c["ben"].ideas(anchor=ANCHOR)
    assert [(i["post_id"], i["endorsed"]) for i in shown] == [(post["id"], True)]
    refused(
        lambda: c["chi"].make_pilot(
            idea["id"], owner_id=people["ben"].id, goal="g", measure="m", review_on=SOON
        ),
        403,
    )
    made = c["fay"].make_pilot(
        idea["id"],
        owner_id=people["ben"].id,
        goal="Fewer broken imports",
        measure="Import errors per week",
        review_on=SOON,
        title="Cleaning checklist",
    )
    assert made["owner"]["username"] == "ben" and made["review_on"] == SOON
    assert c["ana"].ideas(anchor=ANCHOR)[0]["pilot_id"] == made["id"]
    refused(lambda: c["ana"].update_pilot(made["id"], "me too"), 403)
    c["ben"].update_pilot(made["id"], "Three teams use it")
    closed = c["ben"].update_pilot(made["id"], "Done", status="done", outcome="Errors halved")
    assert closed["status"] == "done" and len(closed["history"]) == 2
    (seen,) = c["sam"].pilots()
    assert seen["outcome"] == "Errors halved"
    assert c["sam"].pilot(made["id"])["history"][0]["html"].strip() == "<p>Three teams use it</p>"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"goal": "g", "measure": "m", "review_on": SOON}, "owner_id", "needs an owner"),
        ({"owner_id": None, "goal": "g", "measure": "m", "review_on": SOON}, "owner_id", "owner"),
        ({"owner_id": "2", "goal": "g", "measure": "m", "review_on": SOON}, "owner_id", "whole"),
        ({"owner_id": 2**40, "goal": "g", "measure": "m", "review_on": SOON}, "owner_id", "most"),
        ({"owner_id": 0, "goal": "g", "measure": "m", "review_on": SOON}, "owner_id", "least"),
        ({"owner_id": True, "goal": "g", "measure": "m", "review_on": SOON}, "owner_id", "whole"),
        ({"owner_id": 99999, "goal": "g", "measure": "m", "review_on": SOON}, "owner_id", "not a"),
        ({"owner_id": 2, "goal": 5, "measure": "m", "review_on": SOON}, "goal", "string"),
        ({"owner_id": 2, "goal": "g", "measure": "", "review_on": SOON}, "measure", "needs a"),
        ({"owner_id": 2, "goal": "g", "measure": "m", "review_on": "2001-01-01"}, "review_on",
         "in the past"),
        ({"owner_id": 2, "goal": "g", "measure": "m", "review_on": "31/12/2027"}, "review_on",
         "YYYY-MM-DD"),
        ({"owner_id": 2, "goal": "g", "measure": "m", "review_on": 20270101}, "review_on",
         "string"),
        ({"owner_id": 2, "goal": "g" * 20_000, "measure": "m", "review_on": SOON}, "goal",
         "at most"),
        ({"owner_id": 2, "goal": "g", "measure": "m", "review_on": SOON, "title": "a\u202eb"},
         "title", "control or invisible characters (U+202E)"),
        ({"owner_id": 2, "goal": "\x1b[2J", "measure": "m", "review_on": SOON}, "goal",
         "control or invisible characters (U+001B)"),
    ],
)  # fmt: skip
def test_bad_pilots_are_refused_naming_the_field(service, tokens, people, two, body, field, words):
    c = clients(service, tokens)
    post = c["ana"].post(ANCHOR, "an idea")
    idea = c["ana"].mark_idea(post["id"])
    if body.get("owner_id") == 2:
        body = {**body, "owner_id": people["ben"].id}
    err = refused(
        lambda: c["fay"].request("POST", f"/api/v1/ideas/{idea['id']}/pilot", json=body),
        422,
        field,
    )
    assert words in err.message
    assert c["fay"].pilots() == [] and c["fay"].ideas()[0]["state"] == "open"


def test_declining_and_wrong_input_through_the_api(service, tokens, two):
    c = clients(service, tokens)
    idea = c["ana"].mark_idea(c["ana"].post(ANCHOR, "an idea")["id"])
    path = f"/api/v1/ideas/{idea['id']}/decline"
    refused(lambda: c["fay"].request("POST", path, json={}), 422, "reason")
    refused(lambda: c["fay"].request("POST", path, json={"reason": 7}), 422, "reason")
    refused(lambda: c["fay"].request("POST", path, json={"reason": "x" * 5000}), 422, "reason")
    refused(lambda: c["ana"].decline_idea(idea["id"], "mine"), 403)
    refused(lambda: c["ana"].endorse(2**40), 404, "idea_id")
    refused(lambda: c["ana"].request("GET", "/api/v1/ideas?state=maybe"), 422, "state")
    refused(lambda: c["ana"].request("GET", "/api/v1/pilots?status=x"), 422, "status")
    refused(lambda: c["ana"].request("GET", f"/api/v1/pilots/{2**33}"), 404, "pilot_id")
    c["fay"].decline_idea(idea["id"], "Out of scope this quarter")
    assert c["ana"].ideas()[0]["decline_reason"] == "Out of scope this quarter"
    assert c["ben"].ideas()[0]["decline_reason"] == ""
    note = next(n for n in c["ana"].notifications() if n["kind"] == "idea_declined")
    assert "Out of scope this quarter" in note["headline"]


def test_another_cohorts_idea_is_not_found(service, tokens, store, cohort, two):
    c = clients(service, tokens)
    idea = c["ana"].mark_idea(c["ana"].post(ANCHOR, "an idea")["id"])
    with store.write() as s:
        other = create_cohort(s, SYSTEM, f"autumn-{cohort.id}", "Autumn")
        oz = add_member(s, SYSTEM, other, name="Oz", email="oz@x.org", username="oz",
                        role="facilitator")  # fmt: skip
        lu = add_member(s, SYSTEM, other, name="Lu", email="lu@x.org", username="lu")
        oz_token, lu_token = mint_token(s, SYSTEM, oz), mint_token(s, SYSTEM, lu)
    oz_c = CohortClient(service.url, oz_token, timeout=10)
    lu_c = CohortClient(service.url, lu_token, timeout=10)
    refused(lambda: lu_c.endorse(idea["id"]), 404, "idea_id")
    refused(lambda: oz_c.decline_idea(idea["id"], "no"), 404, "idea_id")
    refused(
        lambda: oz_c.make_pilot(idea["id"], owner_id=1, goal="g", measure="m", review_on=SOON),
        404,
        "idea_id",
    )
    refused(lambda: lu_c.mark_idea(idea["post_id"]), 404, "post_id")
    assert oz_c.ideas() == [] and oz_c.pilots() == []
    assert c["ana"].ideas()[0]["state"] == "open"


def test_sponsors_nudges_and_their_sponsor_label(service, tokens, store, people, cohort, two):
    c = clients(service, tokens)
    question = c["ana"].post(ANCHOR, "How do I read a file with ';' separators?")
    c["ben"].post("module-1/other", "A statement, answered below")
    idea = c["chi"].mark_idea(c["chi"].post("module-2/a", "An idea: pair reviews")["id"])
    c["ben"].endorse(idea["id"])  # 1 of 2: within the default 2 of the threshold
    with store.write() as s:  # both posts are three days old
        from nbcohort.cohorts.models import utcnow

        ours = select(Thread.id).where(Thread.cohort_id == cohort.id)
        s.execute(
            update(Post)
            .where(Post.thread_id.in_(ours))
            .values(created_at=utcnow() - timedelta(days=3))
        )
    for who in ("ana", "chi"):
        refused(lambda who=who: c[who].nudges(), 403)
    got = c["sam"].nudges()
    unanswered = [q["post_id"] for q in got["unanswered"]]
    assert unanswered[0] == question["id"]  # a question mark first
    assert [i["idea_id"] for i in got["ideas"]] == [idea["id"]]
    assert got["pilots"] == [] and got["count"] == len(unanswered) + 1
    reply = c["sam"].post(ANCHOR, "Try sep=';' — and thanks for asking", parent_id=question["id"])
    assert reply["label"] == "sponsor"
    page = c["ana"].thread(ANCHOR)
    assert page["posts"][0]["replies"][0]["label"] == "sponsor"
    assert page["posts"][0]["label"] == ""
    refused(lambda: c["sam"].post("module-3/x", "a thread of my own"), 403)
    assert question["id"] not in [q["post_id"] for q in c["sam"].nudges()["unanswered"]]
    with store.read() as s:
        assert s.get_one(Cohort, cohort.id).slug == cohort.slug
