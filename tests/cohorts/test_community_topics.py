"""The community of practice after graduation, through the real services layer on SQLite and
PostgreSQL: topics shared by the cohorts that graduated into the same community and by no
other, course threads readable across them (read-only, marked with their cohort), topics
refused before graduation, and hostile topic names refused with nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from nbcohort.cohorts.models import Cohort, Member, Post, Thread
from nbcohort.cohorts.services import community, community_courses
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.graduation import graduate
from nbcohort.cohorts.services.posts import create_post, moderate_post
from nbcohort.cohorts.store import Store
from tests.helpers.graduation import make_cohort

SYSTEM = Actor.system()


def _cohort(s, slug: str) -> Cohort:
    return s.scalars(select(Cohort).where(Cohort.slug == slug)).one()


def _as(s, member: Member) -> Actor:
    return Actor.of(s.get_one(Member, member.id))  # the role as it is now (alumni)


def _count(store: Store, model) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def world(store: Store) -> dict[str, dict[str, Member]]:
    """spring and autumn graduate into pandas-practice, elsewhere into another community;
    winter has not graduated. Each has a course thread with a post and a prompt answer."""
    out = {
        "spring": make_cohort(store, "spring", "pandas-practice"),
        "autumn": make_cohort(store, "autumn", "pandas-practice"),
        "elsewhere": make_cohort(store, "elsewhere", "sql-practice"),
        "winter": make_cohort(store, "winter", "pandas-practice"),
    }
    with store.write() as s:
        for slug, people in out.items():
            c = _cohort(s, slug)
            create_post(s, Actor.of(people["ana"]), c, "module-1/loading", f"question in {slug}")
            create_post(s, Actor.of(people["ben"]), c, "prompt/first", f"answer in {slug}",
                        kind="prompt")  # fmt: skip
    for slug in ("spring", "autumn", "elsewhere"):
        with store.write() as s:
            graduate(s, SYSTEM, _cohort(s, slug))
    return out


def _start(store, member, slug="spring", name="merge-tips", title="Merge tips", body="How?"):
    with store.write() as s:
        return community.create_topic(s, _as(s, member), _cohort(s, slug), name, title, body)


def test_topics_before_graduation_are_refused_with_the_reason(store, world):
    threads = _count(store, Thread)
    with pytest.raises(Forbidden, match=r"'winter' has not graduated.*cohort graduate winter"):
        _start(store, world["winter"]["ana"], "winter")
    with store.read() as s, pytest.raises(Forbidden, match="has not graduated"):
        community.list_topics(s, _as(s, world["winter"]["ana"]), _cohort(s, "winter"))
    assert _count(store, Thread) == threads


def test_a_topic_is_shared_by_the_cohorts_of_one_community_and_no_other(store, world):
    made = _start(store, world["spring"]["ana"])
    assert made["anchor"] == "topic/merge-tips" and made["cohort"]["slug"] == "spring"
    autumn_ana = world["autumn"]["ana"]
    with store.write() as s:  # an alumna of autumn sees it and replies in it
        me, home = _as(s, autumn_ana), _cohort(s, "autumn")
        assert me.role == "alumni"
        topics = community.list_topics(s, me, home)
        assert [(t["name"], t["cohort"]["slug"], t["posts"]) for t in topics] == [
            ("merge-tips", "spring", 1)
        ]
        reply = community.post_in_topic(
            s, me, home, "merge-tips", "Use validate=", parent_id=made["post"]["id"]
        )
        assert reply["author"]["username"] == "ana-autumn"
    with store.read() as s:
        page = community.read_topic(s, _as(s, world["spring"]["chi"]), _cohort(s, "spring"),
                                    "merge-tips")  # fmt: skip
        assert page["cohort"] == {"slug": "spring", "title": "Cohort spring"}
        assert [r["html"].strip() for p in page["posts"] for r in p["replies"]] == [
            "<p>Use validate=</p>"
        ]
    for member, slug in ((world["elsewhere"]["ana"], "elsewhere"),
                         (world["elsewhere"]["ivo"], "elsewhere")):  # fmt: skip
        with store.write() as s:
            me, home = _as(s, member), _cohort(s, slug)
            assert community.list_topics(s, me, home) == []
            with pytest.raises(NotFound, match="merge-tips"):
                community.read_topic(s, me, home, "merge-tips")
            with pytest.raises(NotFound, match="merge-tips"):
                community.post_in_topic(s, me, home, "merge-tips", "sneaking in")
    with store.read() as s, pytest.raises(Forbidden, match="has not graduated"):
        community.read_topic(s, _as(s, world["winter"]["ana"]), _cohort(s, "winter"), "merge-tips")


def test_the_same_name_twice_in_a_community_is_a_conflict(store, world):
    _start(store, world["spring"]["ana"])
    posts = _count(store, Post)
    with pytest.raises(Conflict, match=r"community topic 'topic/merge-tips'.*'spring'"):
        _start(store, world["autumn"]["ben"], "autumn")
    with store.write() as s:  # a course topic of spring (the routine's thread)
        create_post(s, _as(s, world["spring"]["chi"]), _cohort(s, "spring"), "topic/top-tip",
                    "tip")  # fmt: skip
    with pytest.raises(Conflict, match="course thread 'topic/top-tip'"):
        _start(store, world["spring"]["ben"], name="top-tip")
    assert _count(store, Post) == posts + 1  # the tip; no second topic
    made = _start(store, world["elsewhere"]["ana"], "elsewhere")  # another community: free
    assert made["cohort"]["slug"] == "elsewhere"


def test_sponsors_read_topics_and_do_not_start_or_post(store, world):
    _start(store, world["spring"]["ana"])
    for slug in ("spring", "autumn"):
        sam = world[slug]["sam"]
        with store.write() as s:
            me, home = _as(s, sam), _cohort(s, slug)
            assert community.read_topic(s, me, home, "merge-tips")["total"] == 1
            with pytest.raises(Forbidden):
                community.create_topic(s, me, home, "sponsored", "Sponsored", "hi")
            with pytest.raises(Forbidden):
                community.post_in_topic(s, me, home, "merge-tips", "hi")


def test_staff_of_another_cohort_do_not_moderate_in_a_topic(store, world):
    made = _start(store, world["spring"]["ana"])
    with store.write() as s:
        moderate_post(s, _as(s, world["spring"]["fay"]), made["post"]["id"], "hide", "spam")
    with store.read() as s:  # autumn's facilitator is a guest: the hidden text stays hidden
        page = community.read_topic(s, _as(s, world["autumn"]["fay"]), _cohort(s, "autumn"),
                                    "merge-tips")  # fmt: skip
        shown = page["posts"][0]
        assert shown["hidden"] and shown["html"] == "" and shown["markdown"] is None
        own = community.read_topic(s, _as(s, world["spring"]["fay"]), _cohort(s, "spring"),
                                   "merge-tips")  # fmt: skip
        assert own["posts"][0]["markdown"] == "How?"
    with store.write() as s, pytest.raises(NotFound):
        moderate_post(s, _as(s, world["autumn"]["fay"]), made["post"]["id"], "restore", "mine")


def test_course_threads_of_the_community_are_readable_read_only_and_marked(store, world):
    with store.write() as s:
        me, home = _as(s, world["autumn"]["ben"]), _cohort(s, "autumn")
        listed = community_courses.course_threads(s, me, home, "spring")
        assert [(t["anchor"], t["cohort"]["slug"], t["read_only"]) for t in listed] == [
            ("module-1/loading", "spring", True)
        ]
        page = community_courses.read_course_thread(s, me, home, "spring", "module-1/loading")
        assert page["read_only"] and page["cohort"]["slug"] == "spring"
        assert [p["html"].strip() for p in page["posts"]] == ["<p>question in spring</p>"]
        own = community_courses.read_course_thread(s, me, home, "autumn", "module-1/loading")
        assert not own["read_only"]
        with pytest.raises(NotFound, match="prompt/first"):  # prompt answers stay private
            community_courses.read_course_thread(s, me, home, "spring", "prompt/first")
        for slug in ("elsewhere", "winter", "nope"):  # another community, not graduated
            with pytest.raises(NotFound, match=f"no cohort '{slug}' in this community"):
                community_courses.course_threads(s, me, home, slug)
            with pytest.raises(NotFound):
                community_courses.read_course_thread(s, me, home, slug, "module-1/loading")
    with store.write() as s, pytest.raises(NotFound):  # read-only: posting there is not found
        create_post(s, _as(s, world["autumn"]["ben"]), _cohort(s, "spring"), "module-1/loading",
                    "hello")  # fmt: skip
    with store.read() as s:
        me, home = _as(s, world["elsewhere"]["ana"]), _cohort(s, "elsewhere")
        with pytest.raises(NotFound):
            community_courses.course_threads(s, me, home, "spring")
        summary = community.community_summary(s, me, home)
        assert [c["slug"] for c in summary["cohorts"]] == ["elsewhere"]


def test_the_community_summary_lists_its_cohorts(store, world):
    with store.read() as s:
        summary = community.community_summary(
            s, _as(s, world["spring"]["sam"]), _cohort(s, "spring")
        )
    assert summary["name"] == "pandas-practice"
    assert summary["title"] == "Community pandas-practice"
    assert [(c["slug"], c["alumni"], c["mine"]) for c in summary["cohorts"]] == [
        ("spring", 2, True),
        ("autumn", 2, False),
    ]


HOSTILE_NAMES = [
    ("../etc", "not a path"),
    ("a/b", "not a path"),
    ("..", "not a path"),
    ("a\\b", "not a path"),
    ("ｍｅｒｇｅ", "look-alike"),  # fullwidth
    ("mеrge", "look-alike"),  # a Cyrillic 'е'
    ("merge\u200b", "look-alike"),  # zero-width space
    ("\u202emerge", "look-alike"),  # right-to-left override
    ("x" * 64, "at most 63"),
    ("", "needs a name"),
    ("Merge", "lowercase"),
    ("-merge", "lowercase"),
    ("merge tips", "lowercase"),
    ("merge%2Ftips", "lowercase"),
]


@pytest.mark.parametrize(("name", "says"), HOSTILE_NAMES)
def test_hostile_topic_names_are_refused_and_nothing_is_written(store, world, name, says):
    threads, posts = _count(store, Thread), _count(store, Post)
    with pytest.raises(Invalid, match=says) as refused:
        _start(store, world["spring"]["ana"], name=name)
    assert refused.value.field == "name"
    assert (_count(store, Thread), _count(store, Post)) == (threads, posts)


@pytest.mark.parametrize(
    ("title", "says"),
    [
        ("x" * 121, "at most 120"),
        ("merge \u202etips", r"U\+202E"),
        ("tab\x00null", r"U\+0000"),
        ("   ", "needs a title"),
        (12, "must be text"),
    ],
)
def test_hostile_topic_titles_are_refused(store, world, title, says):
    threads = _count(store, Thread)
    with pytest.raises(Invalid, match=says) as refused:
        _start(store, world["spring"]["ana"], title=title)
    assert refused.value.field == "title"
    assert _count(store, Thread) == threads


def test_an_empty_or_over_long_first_post_writes_no_topic(store, world):
    threads = _count(store, Thread)
    for body in ("   ", "x" * 20_001):
        with pytest.raises(Invalid) as refused:
            _start(store, world["spring"]["ana"], body=body)
        assert refused.value.field == "body"
    assert _count(store, Thread) == threads


def test_a_markup_title_is_kept_as_text(store, world):
    made = _start(store, world["spring"]["ana"], title="<script>alert(1)</script> tips")
    assert made["title"] == "<script>alert(1)</script> tips"  # text, shown escaped by widgets
