"""Graduation and the community of practice through a real ``nbcohort serve`` and the client:
who may graduate, the dry run, topics refused before graduation and shared after it, hostile
topic names in the body and in the path, and another community's topics not found."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import func, select

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.models import Cohort, Member, Thread
from nbcohort.cohorts.services.auth import Actor, mint_token
from nbcohort.cohorts.services.graduation import graduate
from nbcohort.cohorts.services.posts import create_post
from tests.helpers.graduation import make_cohort

pytestmark = pytest.mark.slow
SYSTEM = Actor.system()


@pytest.fixture
def world(store):
    """spring and autumn (pandas-practice), elsewhere (sql-practice); autumn and elsewhere
    have graduated, spring not yet."""
    people = {
        slug: make_cohort(store, slug, community)
        for slug, community in (
            ("spring", "pandas-practice"),
            ("autumn", "pandas-practice"),
            ("elsewhere", "sql-practice"),
        )
    }
    with store.write() as s:
        spring = s.scalar(select(Cohort).where(Cohort.slug == "spring"))
        create_post(s, Actor.of(people["spring"]["ana"]), spring, "module-1/loading", "CSV?")
        for slug in ("autumn", "elsewhere"):
            graduate(s, SYSTEM, s.scalar(select(Cohort).where(Cohort.slug == slug)))
    return people


@pytest.fixture
def client(service, store, world):
    made: list[CohortClient] = []

    def as_(slug: str, who: str) -> CohortClient:
        with store.write() as s:
            token = mint_token(s, SYSTEM, s.get_one(Member, world[slug][who].id), "test")
        made.append(CohortClient(service.url, token, timeout=30))
        return made[-1]

    yield as_
    for c in made:
        c.close()


def _refused(call, status: int, says: str) -> ClientError:
    with pytest.raises(ClientError) as refused:
        call()
    assert refused.value.status == status, refused.value.message
    assert says in refused.value.message
    return refused.value


def _threads(store) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(Thread)) or 0


def test_graduation_over_http_is_for_instructors_with_a_dry_run(client, store):
    for who in ("ana", "chi", "fay", "sam"):
        _refused(lambda who=who: client("spring", who).graduate(), 403, "cohort.graduate")
    ivo = client("spring", "ivo")
    dry = ivo.graduate(dry_run=True)
    assert dry["dry_run"] and sorted(dry["alumni"]) == ["ana-spring", "ben-spring"]
    assert dry["joined_with"] == ["autumn"]
    ana = client("spring", "ana")
    assert ana.me()["member"]["role"] == "learner"  # the dry run changed nothing
    _refused(lambda: ana.start_topic("merge", "Merge", "hi"), 403, "has not graduated")
    done = ivo.graduate()
    assert not done["dry_run"] and not done["already"] and len(done["alumni"]) == 2
    assert ivo.graduate()["already"]
    assert ana.me()["member"]["role"] == "alumni"
    assert [c["slug"] for c in ana.community()["cohorts"]] == ["spring", "autumn"]


def test_topics_are_shared_in_the_community_and_not_found_outside_it(client, store):
    ben = client("autumn", "ben")
    made = ben.start_topic("merge-tips", "Merge tips", "How do you check a merge?")
    assert made["anchor"] == "topic/merge-tips" and made["cohort"]["slug"] == "autumn"
    client("spring", "ivo").graduate()
    ana = client("spring", "ana")
    assert [(t["name"], t["cohort"]["slug"]) for t in ana.topics()] == [("merge-tips", "autumn")]
    reply = ana.post_in_topic("merge-tips", "validate='one_to_one'", parent_id=made["post"]["id"])
    assert reply["parent_id"] == made["post"]["id"]
    page = ben.topic("merge-tips")
    assert page["total"] == 2 and page["cohort"]["slug"] == "autumn"
    # autumn reads spring's course thread, marked and read-only
    read = ben.course_thread("spring", "module-1/loading")
    assert read["read_only"] and read["cohort"]["slug"] == "spring" and read["total"] == 1
    assert [t["anchor"] for t in ben.course_threads("spring")] == ["module-1/loading"]
    outsider = client("elsewhere", "ana")
    assert outsider.topics() == []
    _refused(lambda: outsider.topic("merge-tips"), 404, "no community topic")
    _refused(lambda: outsider.post_in_topic("merge-tips", "hi"), 404, "no community topic")
    _refused(lambda: outsider.course_thread("spring", "module-1/loading"), 404, "no cohort")
    sponsor = client("autumn", "sam")
    assert sponsor.topic("merge-tips")["total"] == 2
    _refused(lambda: sponsor.post_in_topic("merge-tips", "hi"), 403, "post.create")


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("../../etc/passwd", "not a path"),
        ("a/b", "not a path"),
        ("ｍｅｒｇｅ", "look-alike"),
        ("merge\u200b", "look-alike"),
        ("x" * 64, "at most 63"),
        ("x" * 5000, "at most 1000 characters"),  # the shape limit, before any rule
        ("Merge", "lowercase"),
    ],
)
def test_hostile_topic_names_in_the_body_are_a_422_naming_the_field(client, store, name, says):
    before = _threads(store)
    refused = _refused(lambda: client("autumn", "ana").start_topic(name, "T", "hi"), 422, says)
    assert refused.field == "name"
    assert _threads(store) == before


def test_hostile_topic_names_in_the_path_and_wrong_types(client, service, store):
    ana = client("autumn", "ana")
    ana.start_topic("merge-tips", "Merge tips", "first")
    headers = {"Authorization": f"token {ana.token}"}
    base = f"{service.url}/api/v1/community/topics"
    for raw in ("..%2F..%2Fetc", "merge-tips%2F..", "%2E%2E", "merge%00tips", "%E2%80%AEmerge"):
        got = requests.get(f"{base}/{raw}", headers=headers, timeout=30)
        assert got.status_code == 422, (raw, got.status_code, got.text)
        assert got.json()["field"] == "name"
    got = requests.get(f"{base}/../../../etc/passwd", headers=headers, timeout=30)
    assert got.status_code == 404
    for body, field in (
        ({"name": 5, "title": "T", "body": "b"}, "name"),
        ({"name": "ok", "title": ["T"], "body": "b"}, "title"),
        ({"name": "ok", "title": "T"}, "body"),
    ):
        got = requests.post(base, json=body, headers=headers, timeout=30)
        assert got.status_code == 422 and got.json()["field"] == field, got.text
    got = requests.post(f"{base}/merge-tips/posts", json={"body": "x", "parent_id": "1"},
                        headers=headers, timeout=30)  # fmt: skip
    assert got.status_code == 422 and got.json()["field"] == "parent_id"
    assert requests.get(base, timeout=30).status_code == 401  # no token


def test_guests_react_and_flag_in_a_topic_over_http_and_no_one_else(client, service, store):
    ben = client("autumn", "ben")
    made = ben.start_topic("merge-tips", "Merge tips", "How do you check a merge?")
    pid = made["post"]["id"]
    client("spring", "ivo").graduate()
    ana = client("spring", "ana")
    assert ana.react(pid, "helpful") is True and ana.flag(pid, "off topic")["id"] == pid
    seen = ana.get_post(pid)  # as a guest sees it: no staff rights in autumn
    assert seen["reactions"] == {"helpful": 1} and seen["my_reactions"] == ["helpful"]
    assert not seen["can_delete"]
    fay = client("spring", "fay")  # spring's facilitator, a guest in autumn's topic
    assert not fay.get_post(pid)["can_delete"]
    _refused(lambda: fay.delete(pid, "mine to moderate?"), 403, "post.moderate")
    _refused(lambda: fay.moderate(pid, "hide", "spam"), 404, f"no post {pid}")
    course = client("spring", "chi").post("module-1/other", "a course question")["id"]
    outsider = client("elsewhere", "ana")
    huge = 10**30  # longer than any id: no such route, not found all the same
    for who, post_id, says in (
        (outsider, pid, f"no post {pid}"),
        (ben, course, f"no post {course}"),
        (ana, 2**31 - 1, f"no post {2**31 - 1}"),
        (ana, huge, str(huge)),
    ):
        _refused(lambda w=who, p=post_id: w.react(p, "helpful"), 404, says)
        _refused(lambda w=who, p=post_id: w.flag(p, "x"), 404, says)
    _refused(lambda: ana.react(pid, "x" * 300), 422, "")  # not one of the reactions
    assert ana.leave("moving teams")["tokens_revoked"] == 1  # a left member acts no more
    _refused(lambda: ana.react(pid, "+1"), 401, "")
