"""Members of one cohort in a topic another cohort of their community started, through the
real services layer on SQLite and PostgreSQL: they react, flag, edit and delete their own
words there as guests (never in another community, never in other cohorts' read-only course
threads); @mentions reach the community's members and no one else; what they do counts in
their own cohort; one topic per name, even when two start it at once or two held first
posts are approved; a guest's held reply waits for the topic cohort's moderators; members
who arrive after graduation arrive as alumni."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from nbcohort.cohorts.models import Activity, Flag, HeldPost, Member, Notification, Post, Thread
from nbcohort.cohorts.services import community
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.graduation import graduate
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.services.moderation_hold import approve_held
from nbcohort.cohorts.services.posts import delete_post, edit_post, flag_post, react, unreact
from nbcohort.cohorts.services.roster import import_roster
from nbcohort.cohorts.store import Store
from tests.cohorts.test_community_topics import SYSTEM, _as, _cohort, _start, world
from tests.helpers.community import race
from tests.helpers.graduation import make_cohort
from tests.helpers.moderation import set_charter

__all__ = ["world"]  # the fixture: spring, autumn (pandas-practice), elsewhere, winter


def _post_of(store: Store, slug: str, anchor: str) -> int:
    with store.read() as s:
        return s.scalars(
            select(Post.id)
            .join(Thread, Thread.id == Post.thread_id)
            .where(Thread.cohort_id == _cohort(s, slug).id, Thread.anchor == anchor)
            .order_by(Post.id)
        ).first()


def _verbs(store: Store, slug: str, member: Member) -> list[str]:
    with store.read() as s:
        return list(
            s.scalars(
                select(Activity.verb)
                .where(Activity.cohort_id == _cohort(s, slug).id)
                .where(Activity.member_id == member.id)
                .order_by(Activity.id)
            )
        )


def test_guests_react_and_flag_in_a_topic_and_it_counts_in_their_own_cohort(store, world):
    topic = _start(store, world["spring"]["ana"])["post"]["id"]
    ben = world["autumn"]["ben"]
    with store.write() as s:
        assert react(s, _as(s, ben), topic, "helpful") is True
        assert react(s, _as(s, ben), topic, "helpful") is False  # once each
        flag_post(s, _as(s, ben), topic, "off topic")
    with store.read() as s:
        page = community.read_topic(s, _as(s, world["spring"]["chi"]), _cohort(s, "spring"),
                                    "merge-tips")  # fmt: skip
        assert page["posts"][0]["reactions"]["helpful"] == 1
        assert s.scalar(select(func.count()).select_from(Flag).where(Flag.post_id == topic)) == 1
    with store.write() as s:
        assert unreact(s, _as(s, ben), topic, "helpful") is True
    assert _verbs(store, "autumn", ben)[-3:] == ["post.react", "post.flag", "post.unreact"]
    assert not any(v.startswith("post.") for v in _verbs(store, "spring", ben))


def test_another_communitys_member_finds_no_topic_post(store, world):
    topic = _start(store, world["spring"]["ana"])["post"]["id"]
    for who in ("elsewhere", "winter"):  # another community; not graduated (same name)
        with store.write() as s:
            me = _as(s, world[who]["ana"])
            for act, *args in (
                (react, "helpful"),
                (unreact, "helpful"),
                (flag_post, "x"),
                (edit_post, "mine now"),
                (delete_post, "gone"),
            ):
                with pytest.raises(NotFound, match=f"no post {topic}"):
                    act(s, me, topic, *args)


def test_other_cohorts_course_threads_stay_read_only_for_reactions_and_flags(store, world):
    course_post = _post_of(store, "spring", "module-1/loading")
    with store.write() as s:
        me = _as(s, world["autumn"]["ben"])
        with pytest.raises(NotFound):
            react(s, me, course_post, "helpful")
        with pytest.raises(NotFound):
            flag_post(s, me, course_post, "x")


def test_wrong_ids_and_reactions_are_refused_by_name(store, world):
    _start(store, world["spring"]["ana"])
    with store.write() as s:
        me = _as(s, world["autumn"]["ben"])
        for post_id in (0, -1, 2**31 - 1):  # larger ids stop at the API (path_id)
            with pytest.raises(NotFound, match=f"no post {post_id}"):
                react(s, me, post_id, "helpful")
        topic = _post_of(store, "spring", "topic/merge-tips")
        with pytest.raises(Invalid, match="reaction 'love' is not one of"):
            react(s, me, topic, "love")


def test_a_guest_edits_and_deletes_only_their_own_words(store, world):
    topic = _start(store, world["spring"]["ana"])["post"]["id"]
    with store.write() as s:
        reply = community.post_in_topic(s, _as(s, world["autumn"]["ben"]), _cohort(s, "autumn"),
                                        "merge-tips", "first try", parent_id=topic)  # fmt: skip
    with store.write() as s:
        assert edit_post(s, _as(s, world["autumn"]["ben"]), reply["id"], "second try").body_md \
            == "second try"  # fmt: skip
        with pytest.raises(Forbidden, match="your own posts"):
            edit_post(s, _as(s, world["autumn"]["ben"]), topic, "rewritten")
    with store.write() as s, pytest.raises(Forbidden):  # autumn's facilitator is a guest there
        delete_post(s, _as(s, world["autumn"]["fay"]), topic, "moderating")
    with store.write() as s:
        assert delete_post(s, _as(s, world["autumn"]["ben"]), reply["id"]).deleted


def test_mentions_in_a_topic_reach_the_community_and_no_one_else(store, world):
    """Across cohorts a mention finds only whom the author may find: members listed in the
    community's directory and whoever posted in the topic; one's own cohort as ever."""
    with store.write() as s:  # a member of autumn who left: never mentioned
        s.get_one(Member, world["autumn"]["sam"].id).active = False
        s.get_one(Member, world["autumn"]["chi"].id).directory_opt_in = True
    body = ("ask @ben-spring, @chi-autumn, @ana-elsewhere, @ana-winter, @sam-autumn "
            "and @ben-autumn")  # fmt: skip
    made = _start(store, world["spring"]["ana"], body=body)
    with store.write() as s:
        reply = community.post_in_topic(s, _as(s, world["autumn"]["ana"]), _cohort(s, "autumn"),
                                        "merge-tips", "cc @ana-spring @fay-spring @ivo-elsewhere",
                                        parent_id=made["post"]["id"])  # fmt: skip
    with store.read() as s:
        told = {
            (s.get_one(Member, n.member_id).username, n.kind, n.post_id)
            for n in s.scalars(select(Notification).where(Notification.kind == "mention"))
        }
    assert told == {
        ("ben-spring", "mention", made["post"]["id"]),  # the author's own cohort
        ("chi-autumn", "mention", made["post"]["id"]),  # listed in the directory
        ("ana-spring", "mention", reply["id"]),  # posted in the topic
    }
    html = made["post"]["html"]
    assert f'data-member="{world["autumn"]["chi"].id}"' in html
    strangers = {
        "ana-elsewhere": world["elsewhere"]["ana"],
        "ana-winter": world["winter"]["ana"],
        "sam-autumn": world["autumn"]["sam"],
        "ben-autumn": world["autumn"]["ben"],
    }  # not listed: a guess tells nothing
    for name, member in strangers.items():
        assert f"@{name}" in html and f'data-member="{member.id}"' not in html
    assert f'data-member="{world["spring"]["fay"].id}"' not in reply["html"]


def test_a_guests_posts_are_logged_in_their_own_cohort(store, world):
    made = _start(store, world["spring"]["ana"])
    ben = world["autumn"]["ben"]
    with store.write() as s:
        community.post_in_topic(s, _as(s, ben), _cohort(s, "autumn"), "merge-tips", "a reply",
                                parent_id=made["post"]["id"])  # fmt: skip
    assert "post.create" in _verbs(store, "autumn", ben)
    assert _verbs(store, "spring", ben) == []


def test_two_cohorts_starting_one_name_at_once_make_one_topic(store, world):
    def first(s):
        community.create_topic(s, _as(s, world["spring"]["ana"]), _cohort(s, "spring"),
                               "merge-tips", "Merge tips", "spring's")  # fmt: skip

    def second(s):
        community.create_topic(s, _as(s, world["autumn"]["ana"]), _cohort(s, "autumn"),
                               "merge-tips", "Merge tips", "autumn's")  # fmt: skip

    errors = race(store, first, second)
    assert [type(e) for e in errors] == [Conflict], errors
    assert "'topic/merge-tips' exists already (cohort 'spring')" in str(errors[0])
    with store.read() as s:
        topics = s.scalars(select(Thread.cohort_id).where(Thread.anchor == "topic/merge-tips"))
        assert list(topics) == [_cohort(s, "spring").id]


def test_two_held_first_posts_of_one_name_make_one_topic(store, world):
    for slug in ("spring", "autumn"):
        with store.read() as s:
            cohort_id = _cohort(s, slug).id
        set_charter(store, cohort_id, hold_first_posts=5, roles=["alumni"])
    held = [
        _start(store, world["spring"]["ana"])["post"],
        _start(store, world["autumn"]["ana"], "autumn")["post"],  # nothing is public yet
    ]
    assert all(h["held"] for h in held)
    with store.write() as s:
        approve_held(s, _as(s, world["spring"]["chi"]), held[0]["id"])
    with pytest.raises(Conflict, match=r"exists already \(cohort 'spring'\)"), store.write() as s:
        approve_held(s, _as(s, world["autumn"]["chi"]), held[1]["id"])
    with store.read() as s:
        assert s.get_one(HeldPost, held[1]["id"]).status == "held"  # nothing half-written
        assert s.scalar(select(func.count()).where(Thread.anchor == "topic/merge-tips")) == 1


def test_a_new_alumnas_topic_reply_waits_and_nobody_else_reads_it(store, world):
    made = _start(store, world["spring"]["ana"])
    with store.read() as s:
        spring_id = _cohort(s, "spring").id
    set_charter(store, spring_id, hold_first_posts=3, roles=["alumni"])  # the topic's charter
    ana = world["autumn"]["ana"]
    with store.write() as s:
        held = community.post_in_topic(s, _as(s, ana), _cohort(s, "autumn"), "merge-tips",
                                       "my secret tip", parent_id=made["post"]["id"])  # fmt: skip
    assert held["held"] and held["status_text"] == "waiting for approval"
    readers = [("spring", "ben"), ("spring", "fay"), ("autumn", "ben"), ("autumn", "chi")]

    def replies() -> dict[tuple[str, str], list[str]]:
        out = {}
        with store.read() as s:
            for slug, name in readers:
                page = community.read_topic(s, _as(s, world[slug][name]), _cohort(s, slug),
                                            "merge-tips")  # fmt: skip
                out[(slug, name)] = [r["html"] for p in page["posts"] for r in p["replies"]]
        return out

    assert all(v == [] for v in replies().values())
    with store.write() as s, pytest.raises(NotFound):  # autumn's champion moderates autumn only
        approve_held(s, _as(s, world["autumn"]["chi"]), held["id"])
    with store.write() as s:
        approve_held(s, _as(s, world["spring"]["chi"]), held["id"])
    assert all(v == ["<p>my secret tip</p>\n"] for v in replies().values())
    with store.read() as s:
        told = s.scalars(select(Notification.kind).where(Notification.member_id == ana.id))
        assert "moderation" in list(told)


ROSTER = (
    "name,email,team,role\nNew One,new@spring.org,red,learner\nAna,ana@spring.org,red,learner\n"
)


def test_members_arriving_after_graduation_arrive_as_alumni(store, world):
    with store.write() as s:
        report = import_roster(s, SYSTEM, _cohort(s, "spring"), ROSTER.encode())
        assert (report.added, report.updated) == (1, 1)  # ana: her name, not her role
        added = add_member(s, SYSTEM, _cohort(s, "spring"), name="Late", email="late@spring.org",
                           role="learner")  # fmt: skip
        kept = add_member(s, SYSTEM, _cohort(s, "spring"), name="Champ", email="c@spring.org",
                          role="champion")  # fmt: skip
        assert (added.role, kept.role) == ("alumni", "champion")
        winter = add_member(s, SYSTEM, _cohort(s, "winter"), name="W", email="w@winter.org",
                            role="learner")  # fmt: skip
        assert winter.role == "learner"  # winter has not graduated
    with store.read() as s:
        roles = dict(s.execute(select(Member.email, Member.role).where(
            Member.cohort_id == _cohort(s, "spring").id)).all())  # fmt: skip
    assert roles["new@spring.org"] == roles["ana@spring.org"] == "alumni"
    assert "learner" not in roles.values()


def test_graduating_later_turns_roster_learners_into_alumni_once(store):
    make_cohort(store, "summer", "pandas-practice")
    with store.write() as s:
        import_roster(
            s, SYSTEM, _cohort(s, "summer"), b"name,email,team,role\nX,x@s.org,red,learner\n"
        )
        graduate(s, SYSTEM, _cohort(s, "summer"))
    with store.read() as s:
        assert s.scalar(select(Member.role).where(Member.email == "x@s.org")) == "alumni"
