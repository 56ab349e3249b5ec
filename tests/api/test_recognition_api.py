"""Recognition and champions over HTTP, against ``nbcohort serve``, as every role: badges
shown and hidden, revoking, the member's own choices, champion suggestions and appointments,
pin / welcome / host, and bad input named by field."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.services.badges import award_badges

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


def award(store, cohort) -> None:
    with store.write() as s:
        award_badges(s, s.get_one(Cohort, cohort.id))


def test_badges_show_beside_names_and_a_member_hides_their_own(
    service, tokens, store, cohort, people
):
    c = clients(service, tokens)
    c["ana"].post(ANCHOR, "my first post")
    c["ben"].post(ANCHOR, "mine too")
    award(store, cohort)
    ana, ben = people["ana"].id, people["ben"].id
    seen = c["sam"].badges()  # a sponsor reads them too
    assert [b["title"] for b in seen[ana]] == ["First post"] and ben in seen
    assert set(c["ben"].badges([ana])) == {ana}
    member = c["ana"].set_recognition(badges_hidden=True)
    assert member["badges_hidden"] is True and member["champion_opt_out"] is False
    assert ana not in c["ben"].badges()
    assert c["ana"].badges()[ana][0]["hidden"] is True
    assert c["fay"].member_badges(ana)["badges"][0]["badge"] == "first-post"
    assert c["ben"].member_badges(ana)["badges"] == []


def test_revoking_is_for_staff_with_a_reason_named_by_field(service, tokens, store, cohort, people):
    c = clients(service, tokens)
    c["ana"].post(ANCHOR, "first")
    award(store, cohort)
    ana = people["ana"].id
    for who in ("ana", "ben", "chi", "sam"):
        with pytest.raises(ClientError) as refused:
            c[who].revoke_badge(ana, "first-post", "no")
        assert refused.value.status == 403
    for body, field in [
        ({"member_id": ana, "badge": "first-post"}, "reason"),
        ({"member_id": ana, "badge": "first-post", "reason": 5}, "reason"),
        ({"member_id": "1", "badge": "first-post", "reason": "x"}, "member_id"),
        ({"member_id": 2**40, "badge": "first-post", "reason": "x"}, "member_id"),
        ({"member_id": ana, "badge": "", "reason": "x"}, "badge"),
        ({"member_id": ana, "badge": "first-post", "reason": "  "}, "reason"),
    ]:
        with pytest.raises(ClientError) as refused:
            c["fay"].request("POST", "/api/v1/badges/revoke", json=body)
        assert (refused.value.status, refused.value.field) == (422, field), body
    assert c["fay"].revoke_badge(ana, "first-post", "a bot posted it")["revoked"] is True
    assert c["ana"].member_badges(ana)["revoked"][0]["reason"] == "a bot posted it"
    assert ana not in c["ben"].badges()


def test_recognition_choices_are_booleans(service, tokens):
    ana = clients(service, tokens)["ana"]
    for value in ("yes", 1, None, [True]):
        for name in ("badges_hidden", "champion_opt_out"):
            if value is None:
                continue
            with pytest.raises(ClientError) as refused:
                ana.request("PUT", "/api/v1/me/recognition", json={name: value})
            assert (refused.value.status, refused.value.field) == (422, name)
    assert ana.set_recognition(champion_opt_out=True)["champion_opt_out"] is True


def test_champions_suggested_for_staff_appointed_by_instructors(service, tokens, store, people):
    c = clients(service, tokens)
    question = c["fay"].post(ANCHOR, "a question")
    for who in ("ana", "ben"):
        reply = c[who].post(ANCHOR, "an answer", parent_id=question["id"])
        c["fay"].react(reply["id"], "helpful")
    c["ben"].set_recognition(champion_opt_out=True)
    for who in ("ana", "chi", "sam"):
        with pytest.raises(ClientError) as refused:
            c[who].suggest_champions()
        assert refused.value.status == 403
    picks = c["fay"].suggest_champions(3)
    assert [p["username"] for p in picks] == ["ana"]
    assert picks[0]["why"].startswith("1 helpful replies; second champion for team red")  # chi
    for count in ("0", "101", "x"):
        with pytest.raises(ClientError) as refused:
            c["fay"].request("GET", "/api/v1/champions/suggestions", params={"count": count})
        assert (refused.value.status, refused.value.field) == (422, "count")
    ana = people["ana"].id
    for who in ("fay", "chi", "ana"):
        with pytest.raises(ClientError) as refused:
            c[who].appoint_champion(ana)
        assert refused.value.status == 403
    with pytest.raises(ClientError) as missing:
        c["ivo"].appoint_champion(2**31 - 1)
    assert missing.value.status == 404
    assert c["ivo"].appoint_champion(ana)["role"] == "champion"
    with store.read() as s:
        assert s.scalar(select(Member.role).where(Member.id == ana)) == "champion"


def test_champions_pin_and_welcome_and_learners_cannot(service, tokens, people):
    c = clients(service, tokens)
    first = c["ana"].post(ANCHOR, "hello, I'm new here")
    with pytest.raises(ClientError) as refused:
        c["ben"].pin(first["id"])
    assert refused.value.status == 403
    assert c["chi"].pin(first["id"]) is True
    assert c["ben"].pins(ANCHOR) == [first["id"]]
    with pytest.raises(ClientError) as refused:
        c["ben"].pins("../../etc")
    assert (refused.value.status, refused.value.field) == (422, "anchor")
    assert c["chi"].pin(first["id"], pinned=False) is True
    assert c["ben"].pins(ANCHOR) == []
    with pytest.raises(ClientError) as refused:
        c["ben"].welcome(first["id"])
    assert refused.value.status == 403
    assert c["chi"].welcome(first["id"]) is True
    assert c["fay"].welcome(first["id"]) is False
    post = c["ana"].request("GET", f"/api/v1/posts/{first['id']}")
    assert post["reactions"] == {"welcome": 1}
    feed = c["ana"].notification_feed()
    [note] = [n for n in feed["notifications"] if n["kind"] == "welcome"]
    assert note["headline"].startswith("Chi Nguyen welcomed you to the cohort")
    for bad in ("0", "99999999999999"):
        with pytest.raises(ClientError) as refused:
            c["chi"].request("PUT", f"/api/v1/posts/{bad}/pin")
        assert refused.value.status == 404
    with pytest.raises(ClientError) as refused:
        c["chi"].host_routine("no-such-routine")
    assert (refused.value.status, refused.value.field) == (404, "key")
    with pytest.raises(ClientError) as refused:
        c["chi"].request("POST", "/api/v1/routines/host", json={"key": 5})
    assert (refused.value.status, refused.value.field) == (422, "key")


def test_spotlight_bad_input_names_the_field(service, tokens):
    fay = clients(service, tokens)["fay"]
    for params, field in [({"week": "soon"}, "week"), ({}, "week")]:
        with pytest.raises(ClientError) as refused:
            fay.request("GET", "/api/v1/spotlight", params=params)
        assert (refused.value.status, refused.value.field) == (422, field)
    with pytest.raises(ClientError) as refused:
        fay.spotlight("2026-03-02")
    assert refused.value.status == 404
    for body, field in [
        ({"week": "2026-03-02", "member_ids": [0]}, "member_ids"),
        ({"week": "2026-03-02", "member_ids": list(range(1, 12))}, "member_ids"),
        ({"week": "monday", "member_ids": []}, "week"),
        ({"week": "2026-03-02", "member_ids": [], "note": 3}, "note"),
    ]:
        with pytest.raises(ClientError) as refused:
            fay.request("PUT", "/api/v1/spotlight", json=body)
        assert (refused.value.status, refused.value.field) == (422, field), body
