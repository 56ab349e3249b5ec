"""Moderation through the real services layer on SQLite and PostgreSQL: first posts held and
seen by nobody but their author on any path that reads posts, approved or rejected with a
reason, rate limits for new members, appeals, the queue, and every refusal named."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from nbcohort.cohorts.models import Activity, Cohort, HeldPost, Member, Post, Thread, utcnow
from nbcohort.cohorts.services.appeals import decide_appeal, file_appeal
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.charter import charter_view
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.highlights import gather_highlights
from nbcohort.cohorts.services.live import thread_versions
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.services.moderation_gate import PostingTooFast
from nbcohort.cohorts.services.moderation_hold import approve_held, reject_held
from nbcohort.cohorts.services.moderation_mine import my_moderation
from nbcohort.cohorts.services.moderation_queue import moderation_queue
from nbcohort.cohorts.services.notifications import list_notifications
from nbcohort.cohorts.services.pages import thread_page
from nbcohort.cohorts.services.posts import create_post, delete_post, flag_post
from nbcohort.cohorts.services.prompts import answer_prompt
from nbcohort.cohorts.services.search import search
from nbcohort.cohorts.services.thread_list import active_threads
from tests.helpers.community import SYSTEM, race
from tests.helpers.moderation import set_charter

ANCHOR = "module-1/reading-files"


def _a(s, member: Member) -> Actor:
    return Actor.of(s.get_one(Member, member.id))


def _post(store, cohort, member, text, anchor=ANCHOR, **kw):
    with store.write() as s:
        out = create_post(s, _a(s, member), s.get_one(Cohort, cohort.id), anchor, text, **kw)
        return type(out), out.id


def test_a_first_post_is_held_and_no_path_that_reads_posts_shows_it(store, cohort, people):
    set_charter(store, cohort.id, hold_first_posts=1)
    kind, held_id = _post(store, cohort, people["ana"], "Quokka question about dtypes")
    assert kind is HeldPost
    with store.read() as s:
        c = s.get_one(Cohort, cohort.id)
        assert s.scalar(select(func.count()).select_from(Post)) == 0
        assert s.scalar(select(func.count()).select_from(Thread)) == 0  # no thread made
        for who in ("ben", "chi", "fay", "ana"):
            page = thread_page(s, _a(s, people[who]), c, ANCHOR)
            assert page["posts"] == [] and page["total"] == 0 and page["version"] == 0
            found = search(s, _a(s, people[who]), c, "Quokka")
            assert found["posts"] == [] and found["threads"] == []
            assert active_threads(s, _a(s, people[who]), c) == []
        assert thread_versions(s, c.id, [ANCHOR]) == {ANCHOR: 0}  # live: no change to hear
        now = utcnow()
        lit = gather_highlights(s, c, now - timedelta(days=7), now + timedelta(hours=1), 5, "x")
        assert "Quokka" not in repr(lit)
        verbs = set(s.scalars(select(Activity.verb).where(Activity.cohort_id == c.id)))
        assert "post.hold" in verbs and "post.create" not in verbs  # metrics count nothing
        mine = my_moderation(s, _a(s, people["ana"]), c)
        assert [h["status_text"] for h in mine["held"]] == ["waiting for approval"]
        assert "Quokka" in mine["held"][0]["html"]
        assert my_moderation(s, _a(s, people["ben"]), c)["held"] == []
        queue = moderation_queue(s, _a(s, people["chi"]), c)
        assert [h["id"] for h in queue["held"]] == [held_id]
        assert queue["held"][0]["author"]["name"] == "Ana Souza"
    # Approved by a champion: now a post by Ana, in its thread, for everyone.
    with store.write() as s:
        post = approve_held(s, _a(s, people["chi"]), held_id)
        assert post.author_id == people["ana"].id
    with store.read() as s:
        c = s.get_one(Cohort, cohort.id)
        page = thread_page(s, _a(s, people["ben"]), c, ANCHOR)
        assert [p["author"]["name"] for p in page["posts"]] == ["Ana Souza"]
        assert search(s, _a(s, people["ben"]), c, "Quokka")["posts"]
        assert my_moderation(s, _a(s, people["ana"]), c)["held"] == []
    # Her second post goes straight out: only the first is held.
    assert _post(store, cohort, people["ana"], "and another")[0] is Post


def test_staff_and_champions_are_never_held_and_no_rules_hold_nothing(store, cohort, people):
    assert _post(store, cohort, people["ana"], "no charter: posted")[0] is Post
    set_charter(store, cohort.id, hold_first_posts=3, posts_per_hour=1)
    for who in ("chi", "fay", "ivo"):
        assert _post(store, cohort, people[who], f"{who} one")[0] is Post
        assert _post(store, cohort, people[who], f"{who} two")[0] is Post


def test_approving_is_for_champions_and_staff_never_ones_own_nor_twice(store, cohort, people):
    set_charter(store, cohort.id, hold_first_posts=1)
    _, held_id = _post(store, cohort, people["ana"], "first")
    for who in ("ben", "sam"):
        with store.write() as s, pytest.raises(Forbidden):
            approve_held(s, _a(s, people[who]), held_id)
        with store.read() as s, pytest.raises(Forbidden):
            moderation_queue(s, _a(s, people[who]), s.get_one(Cohort, cohort.id))
    with store.write() as s:  # Ana made a champion while her post waits: still not hers to pass
        s.get_one(Member, people["ana"].id).role = "champion"
    with store.write() as s, pytest.raises(Forbidden, match="your own"):
        approve_held(s, _a(s, people["ana"]), held_id)
    with store.write() as s:
        approve_held(s, _a(s, people["fay"]), held_id)
    with store.write() as s, pytest.raises(Conflict, match="already approved"):
        approve_held(s, _a(s, people["chi"]), held_id)
    with store.write() as s, pytest.raises(Conflict, match="already approved"):
        reject_held(s, _a(s, people["chi"]), held_id, "too late")
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 1


def test_two_moderators_approving_at_once_publish_it_once(store, cohort, people):
    set_charter(store, cohort.id, hold_first_posts=1)
    _, held_id = _post(store, cohort, people["ana"], "raced")
    errors = race(
        store,
        lambda s: approve_held(s, _a(s, people["chi"]), held_id),
        lambda s: approve_held(s, _a(s, people["fay"]), held_id),
    )
    assert len(errors) == 1 and isinstance(errors[0], Conflict), errors
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 1


def test_another_cohorts_moderator_finds_nothing(store, cohort, people):
    set_charter(store, cohort.id, hold_first_posts=1)
    _, held_id = _post(store, cohort, people["ana"], "mine")
    with store.write() as s:
        other = create_cohort(s, SYSTEM, "autumn-26", "Autumn")
        zoe = add_member(s, SYSTEM, other, name="Zoe", email="z@example.org", role="facilitator",
                         username="zoe")  # fmt: skip
        zoe_id = zoe.id
    with store.write() as s, pytest.raises(NotFound):
        approve_held(s, Actor.of(s.get_one(Member, zoe_id)), held_id)
    with store.write() as s, pytest.raises(NotFound):
        reject_held(s, Actor.of(s.get_one(Member, zoe_id)), held_id, "no")
    with store.read() as s:
        zoe_actor = Actor.of(s.get_one(Member, zoe_id))
        assert moderation_queue(s, zoe_actor, s.get_one(Cohort, zoe_actor.cohort_id))["held"] == []


@pytest.mark.parametrize(
    ("reason", "says"),
    [("", "say why"), ("   ", "say why"), ("x" * 100_000, "limited to 1000"), (5, "text")],
)
def test_a_rejection_needs_a_reason_within_the_limit(store, cohort, people, reason, says):
    set_charter(store, cohort.id, hold_first_posts=1)
    _, held_id = _post(store, cohort, people["ana"], "first")
    with store.write() as s, pytest.raises(Invalid, match=says) as refused:
        reject_held(s, _a(s, people["chi"]), held_id, reason)
    assert refused.value.field == "reason"
    with store.read() as s:
        assert s.get_one(HeldPost, held_id).status == "held"  # nothing half-written


def test_rejected_with_a_sanitized_reason_the_author_reads_and_appeals_once(store, cohort, people):
    set_charter(store, cohort.id, hold_first_posts=1)
    _, held_id = _post(store, cohort, people["ana"], "buy my course")
    hostile = (
        "Advertising <script>alert(1)</script><img src=x onerror=alert(2)> [x](javascript:alert(3))"
    )
    with store.write() as s:
        reject_held(s, _a(s, people["chi"]), held_id, hostile)
    with store.read() as s:
        mine = my_moderation(s, _a(s, people["ana"]), s.get_one(Cohort, cohort.id))
        shown = mine["held"][0]
        assert shown["status_text"] == "not approved" and "Advertising" in shown["reason_html"]
        told = list_notifications(s, _a(s, people["ana"]), kind="moderation")
        assert len(told) == 1 and told[0]["anchor"] == ANCHOR
        assert told[0]["headline"].startswith(f"{people['chi'].name} did not approve your held")
        assert "Advertising" in told[0]["headline"]  # the reason, as text: widgets escape it
        for bad in ("<script", "<img", 'href="javascript'):  # text at most, never markup
            assert bad not in shown["reason_html"]
    with store.write() as s, pytest.raises(Forbidden, match="your own"):
        file_appeal(s, _a(s, people["ben"]), s.get_one(Cohort, cohort.id), "hm", held_id=held_id)
    with store.write() as s:
        text = "It was <b>on topic</b><script>x</script>"
        c = s.get_one(Cohort, cohort.id)
        appeal = file_appeal(s, _a(s, people["ana"]), c, text, held_id=held_id)
        appeal_id = appeal.id
        assert "<script" not in appeal.body_html
    with store.write() as s, pytest.raises(Conflict, match="once"):
        file_appeal(s, _a(s, people["ana"]), s.get_one(Cohort, cohort.id), "again", held_id=held_id)
    with store.read() as s:
        queue = moderation_queue(s, _a(s, people["fay"]), s.get_one(Cohort, cohort.id))
        assert [a["id"] for a in queue["appeals"]] == [appeal_id]
        assert (
            moderation_queue(s, _a(s, people["chi"]), s.get_one(Cohort, cohort.id))["appeals"] == []
        )
    with store.write() as s, pytest.raises(Forbidden):
        decide_appeal(s, _a(s, people["chi"]), appeal_id, "grant", "ok")
    with store.write() as s:
        decide_appeal(s, _a(s, people["fay"]), appeal_id, "grant", "fair: it answers the question")
    with store.write() as s, pytest.raises(Conflict, match="already granted"):
        decide_appeal(s, _a(s, people["ivo"]), appeal_id, "deny", "no")
    with store.read() as s:
        page = thread_page(s, _a(s, people["ben"]), s.get_one(Cohort, cohort.id), ANCHOR)
        assert ["buy my course" in p["html"] for p in page["posts"]] == [True]
        mine = my_moderation(s, _a(s, people["ana"]), s.get_one(Cohort, cohort.id))
        assert mine["appeals"][0]["status"] == "granted"
        assert "answers the question" in mine["appeals"][0]["answer_html"]
        told = list_notifications(s, _a(s, people["ana"]), kind="moderation")
        assert len(told) == 2  # the appeal's answer; granting publishes without a second word
        assert told[0]["headline"].startswith(f"{people['fay'].name} granted your appeal")
        assert told[0]["headline"].endswith("fair: it answers the question")


def test_appeals_of_posts_removed_hidden_or_flagged_only(store, cohort, people):
    _, ok_id = _post(store, cohort, people["ana"], "fine post")
    _, removed_id = _post(store, cohort, people["ana"], "removed post")
    _, flagged_id = _post(store, cohort, people["ana"], "flagged post")
    _, own_deleted = _post(store, cohort, people["ana"], "deleted myself")
    with store.write() as s:
        delete_post(s, _a(s, people["fay"]), removed_id, "off topic")
        flag_post(s, _a(s, people["ben"]), flagged_id, "rude")
        delete_post(s, _a(s, people["ana"]), own_deleted)
    c_id = cohort.id
    for post_id in (ok_id, own_deleted):
        with store.write() as s, pytest.raises(Invalid, match="nothing to appeal"):
            file_appeal(s, _a(s, people["ana"]), s.get_one(Cohort, c_id), "why", post_id=post_id)
    with store.write() as s, pytest.raises(Forbidden):
        file_appeal(s, _a(s, people["ben"]), s.get_one(Cohort, c_id), "hers", post_id=removed_id)
    with store.write() as s, pytest.raises(Invalid, match="either"):
        file_appeal(s, _a(s, people["ana"]), s.get_one(Cohort, c_id), "both")
    with store.write() as s:
        a1 = file_appeal(s, _a(s, people["ana"]), s.get_one(Cohort, c_id), "it was on topic",
                         post_id=removed_id).id  # fmt: skip
        a2 = file_appeal(s, _a(s, people["ana"]), s.get_one(Cohort, c_id), "not rude",
                         post_id=flagged_id).id  # fmt: skip
    with store.write() as s:
        decide_appeal(s, _a(s, people["fay"]), a1, "grant", "you are right")
        decide_appeal(s, _a(s, people["fay"]), a2, "deny", "it was rude")
    with store.read() as s:
        assert s.get_one(Post, removed_id).deleted is False
        queue = moderation_queue(s, _a(s, people["fay"]), s.get_one(Cohort, c_id))
        assert [f["post_id"] for f in queue["flags"]] == [flagged_id]  # denied: still flagged


def test_rate_limit_for_new_members_says_when_to_post_again(store, cohort, people):
    set_charter(store, cohort.id, posts_per_hour=2, new_days=7)
    _post(store, cohort, people["ana"], "one", request_key="k1")
    _post(store, cohort, people["ana"], "two")
    with pytest.raises(PostingTooFast) as refused:
        _post(store, cohort, people["ana"], "three")
    assert refused.value.status == 429 and 3500 <= refused.value.retry_after <= 3600
    assert "2 times an hour" in refused.value.message and "post again at" in refused.value.message
    # A resend of a post already written is answered, not refused.
    assert _post(store, cohort, people["ana"], "one", request_key="k1")[0] is Post
    # Through a prompt's answer too: the rule holds on every path that posts.
    with store.write() as s:
        from nbcohort.cohorts.models import Prompt

        s.add(Prompt(cohort_id=cohort.id, key="day-1", text="What did you try?"))
    with store.write() as s, pytest.raises(PostingTooFast):
        answer_prompt(s, _a(s, people["ana"]), s.get_one(Cohort, cohort.id), "day-1", "x")
    assert _post(store, cohort, people["ben"], "ben is fine")[0] is Post
    # No longer new (joined more than new_days ago): no limit.
    with store.write() as s:
        s.get_one(Member, people["ana"].id).joined_at = utcnow() - timedelta(days=8)
    assert _post(store, cohort, people["ana"], "three")[0] is Post


def test_new_ends_after_new_posts(store, cohort, people):
    set_charter(store, cohort.id, posts_per_hour=1, new_posts=1)
    _post(store, cohort, people["ana"], "one")
    assert _post(store, cohort, people["ana"], "two")[0] is Post  # no longer new


def test_held_posts_count_towards_the_hour(store, cohort, people):
    set_charter(store, cohort.id, posts_per_hour=2, hold_first_posts=5)
    for n in range(2):
        assert _post(store, cohort, people["ana"], f"held {n}")[0] is HeldPost
    with pytest.raises(PostingTooFast):
        _post(store, cohort, people["ana"], "one too many")


def test_the_code_of_conduct_is_part_of_the_charter_sanitized(store, cohort, people):
    set_charter(store, cohort.id)
    with store.read() as s:
        view = charter_view(s, _a(s, people["ana"]), s.get_one(Cohort, cohort.id))
        assert "assume good intent" in view["code_of_conduct"]
        assert "<strong>no harassment</strong>" in view["code_of_conduct"]
        assert "<script" not in view["code_of_conduct"]
        mine = my_moderation(s, _a(s, people["ana"]), s.get_one(Cohort, cohort.id))
        assert mine["code_of_conduct"] == view["code_of_conduct"]


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("posts_per_hour", -3, "must be at least 1 (got -3): leave posts_per_hour out"),
        ("posts_per_hour", 0, "must be at least 1 (got 0)"),
        ("posts_per_hour", 10**9, "must be at most 120"),
        ("hold_first_posts", -1, "must be at least 0"),
        ("hold_first_posts", 500, "must be at most 20"),
        ("new_days", 0, "must be at least 1"),
        ("new_days", 100000, "must be at most 365"),
        ("new_posts", -1, "must be at least 1"),
        ("posts_per_hour", "'many'", "valid integer"),
        ("roles", "['champion']", "'learner' or 'alumni'"),
    ],
)
def test_bad_moderation_rules_are_refused_naming_file_line_and_key(key, value, says):
    from nbcohort.cohorts.cohort_checks import check_cohort_file
    from tests.helpers.moderation import charter_toml

    text = charter_toml().replace(
        "[charter.moderation]\n", f"[charter.moderation]\n{key} = {value}\n"
    )
    spec, problems = check_cohort_file(text, "spring.toml")
    assert spec is None
    line = text.splitlines().index(f"{key} = {value}") + 1
    assert str(problems[0]).startswith(f"spring.toml:{line}: charter.moderation.{key}")
    assert says in str(problems[0])


def test_a_code_of_conduct_too_long_is_refused_naming_it():
    from nbcohort.cohorts.cohort_checks import check_cohort_file
    from tests.helpers.moderation import charter_toml

    spec, problems = check_cohort_file(charter_toml(conduct="x" * 20_001), "c.toml")
    assert spec is None and "charter.code_of_conduct" in str(problems[0])
    assert str(problems[0]).startswith("c.toml:")


def test_a_member_who_leaves_takes_their_unpublished_posts_along(store, cohort, people):
    from nbcohort.cohorts.services.leaving import leave

    set_charter(store, cohort.id, hold_first_posts=2)
    _, waiting = _post(store, cohort, people["ana"], "waiting")
    _, turned_down = _post(store, cohort, people["ana"], "turned down")
    with store.write() as s:
        reject_held(s, _a(s, people["chi"]), turned_down, "no")
    with store.write() as s:
        leave(s, _a(s, people["ana"]), s.get_one(Member, people["ana"].id))
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(HeldPost)) == 0
        queue = moderation_queue(s, _a(s, people["fay"]), s.get_one(Cohort, cohort.id))
        assert queue["held"] == []
    with store.write() as s, pytest.raises(NotFound):
        approve_held(s, _a(s, people["chi"]), waiting)


def test_appeals_of_another_cohorts_posts_and_empty_or_huge_texts_are_refused(
    store, cohort, people
):
    _, removed_id = _post(store, cohort, people["ana"], "removed")
    with store.write() as s:
        delete_post(s, _a(s, people["fay"]), removed_id, "off topic")
        other = create_cohort(s, SYSTEM, "autumn-26", "Autumn")
        zoe = add_member(s, SYSTEM, other, name="Zoe", email="z@example.org", username="zoe")
        zoe_id, other_id = zoe.id, other.id
    with store.write() as s, pytest.raises(NotFound):
        file_appeal(s, Actor.of(s.get_one(Member, zoe_id)), s.get_one(Cohort, other_id), "x",
                    post_id=removed_id)  # fmt: skip
    for text, says in (("", "say why you appeal"), ("y" * 100_000, "limited to 1000")):
        with store.write() as s, pytest.raises(Invalid, match=says) as refused:
            file_appeal(s, _a(s, people["ana"]), s.get_one(Cohort, cohort.id), text,
                        post_id=removed_id)  # fmt: skip
        assert refused.value.field == "text"
    with store.write() as s:
        appeal = file_appeal(s, _a(s, people["ana"]), s.get_one(Cohort, cohort.id), "on topic",
                             post_id=removed_id)  # fmt: skip
        appeal_id = appeal.id
    with store.write() as s:
        zoe_staff = s.get_one(Member, zoe_id)
        zoe_staff.role = "facilitator"
    with store.write() as s, pytest.raises(NotFound):
        decide_appeal(s, Actor.of(s.get_one(Member, zoe_id)), appeal_id, "grant", "ok")
