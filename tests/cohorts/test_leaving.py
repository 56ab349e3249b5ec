"""Leaving, through the real services layer on SQLite and PostgreSQL: tokens, email, the
name gone from every view that shows an author, the charter's rule for posts, the log,
reviews owed, who may make whom leave, and leaving twice."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from nbcohort.cohorts.config import PrivacySettings
from nbcohort.cohorts.models import (
    Activity,
    Allocation,
    ApiToken,
    Cohort,
    Member,
    OutboxMessage,
    Post,
    ReviewRound,
    ReviewSubmission,
    utcnow,
)
from nbcohort.cohorts.services.auth import Actor, authenticate_token, mint_token
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from nbcohort.cohorts.services.highlights import gather_highlights
from nbcohort.cohorts.services.leaving import leave, posts_rule
from nbcohort.cohorts.services.members import add_member, list_members, set_active
from nbcohort.cohorts.services.notifications import list_notifications
from nbcohort.cohorts.services.pages import thread_page
from nbcohort.cohorts.services.posts import create_post, react
from nbcohort.cohorts.services.search import search
from nbcohort.cohorts.store import Store
from tests.helpers.community import SYSTEM
from tests.helpers.rhythm import apply_text, cohort_toml

ANCHOR = "module-1/reading-files"


def _a(s, member: Member) -> Actor:
    return Actor.of(s.get_one(Member, member.id))


@pytest.fixture
def scene(store: Store, cohort: Cohort, people: dict[str, Member]) -> dict[str, int]:
    """Ana posts (a question and a reply), Ben answers her, she has email waiting, a token."""
    with store.write() as s:
        c = s.get_one(Cohort, cohort.id)
        ana, ben = _a(s, people["ana"]), _a(s, people["ben"])
        top = create_post(s, ana, c, ANCHOR, "Zanzibar question about read_csv encodings")
        answer = create_post(s, ben, c, ANCHOR, "Try encoding='latin-1', Ana", parent_id=top.id)
        other = create_post(s, ana, c, ANCHOR, "Zanzibar follow-up from me")
        react(s, ben, top.id, "helpful")
        token = mint_token(s, SYSTEM, s.get_one(Member, people["ana"].id), "kernel")
        for state, key in (("queued", "q"), ("failed", "f"), ("sent", "s")):
            s.add(
                OutboxMessage(
                    cohort_id=c.id,
                    member_id=people["ana"].id,
                    kind="digest",
                    dedupe_key=f"ana-{key}",
                    message_id=f"<{key}@x>",
                    to_addr="ana@example.org",
                    subject="Your week",
                    body_text="...",
                    state=state,
                )
            )
        s.flush()
        return {"top": top.id, "answer": answer.id, "other": other.id, "token": token}  # type: ignore[dict-item]


def _authors(page: dict) -> list[dict]:
    out = []
    for p in page["posts"]:
        out += [p["author"], *(r["author"] for r in p["replies"])]
    return out


def test_a_member_leaves_and_their_name_is_gone_from_every_view(
    store: Store, cohort: Cohort, people: dict[str, Member], scene: dict
) -> None:
    with store.write() as s:
        listed = s.get_one(Member, people["ana"].id)
        listed.directory_opt_in, listed.directory_skills = True, ["pandas", "SQL"]
    with store.write() as s:
        report = leave(
            s, _a(s, people["ana"]), s.get_one(Member, people["ana"].id), reason="moving on"
        )
    assert report.posts == "keep" and report.tokens_revoked == 1
    assert report.emails_cancelled == 2  # queued and failed; the sent one stays sent
    with store.read() as s:
        ana = s.get_one(Member, people["ana"].id)
        assert (ana.name, ana.email, ana.team, ana.active) == ("former member", None, "", False)
        assert (ana.directory_opt_in, ana.directory_skills) == (False, [])
        assert ana.username == "ana"  # nbgrader's gradebook still knows the student
        states = dict(s.execute(select(OutboxMessage.dedupe_key, OutboxMessage.state)).all())
        assert states == {"ana-q": "cancelled", "ana-f": "cancelled", "ana-s": "sent"}
        with pytest.raises(Unauthorized):
            authenticate_token(s, scene["token"])
        ben = _a(s, people["ben"])
        c = s.get_one(Cohort, cohort.id)
        page = thread_page(s, ben, c, ANCHOR)
        former = [a for a in _authors(page) if a["id"] == people["ana"].id]
        assert len(former) == 2
        assert all(a == {"id": ana.id, "username": "", "name": "former member", "role": "former",
                         "team": "", "timezone": "UTC"} for a in former)  # fmt: skip
        assert page["posts"][0]["html"]  # kept: the text stays
        found = search(s, ben, c, "zanzibar")
        assert len(found["posts"]) == 2
        assert {p["author"]["name"] for p in found["posts"]} == {"former member"}
        assert {p["author"]["username"] for p in found["posts"]} == {""}
        assert "ana" not in [m.username for m in list_members(s, ben, c)]
        since = utcnow() - timedelta(days=1)
        text = gather_highlights(s, c, since, utcnow() + timedelta(minutes=1), 5, "x").markdown(
            ZoneInfo("UTC")
        )
        assert "Ana Souza" not in text
        log = s.scalars(select(Activity).where(Activity.verb == "member.leave")).one()
        assert log.data["by"] == "self" and log.data["reason"] == "moving on"
        assert "Ana" not in json.dumps(log.data)


def test_notifications_of_others_name_a_former_member(
    store: Store, cohort: Cohort, people: dict[str, Member], scene: dict
) -> None:
    with store.write() as s:  # Ana replies to Ben: Ben is notified, naming her
        c = s.get_one(Cohort, cohort.id)
        create_post(s, _a(s, people["ana"]), c, ANCHOR, "thanks!", parent_id=scene["top"])
        create_post(s, _a(s, people["ben"]), c, "module-1/other", "a post of Ben's")
    with store.write() as s:
        c = s.get_one(Cohort, cohort.id)
        mine = create_post(s, _a(s, people["ben"]), c, "module-1/b", "Ben asks")
        create_post(
            s, _a(s, people["ana"]), c, "module-1/b", "here is an answer", parent_id=mine.id
        )
    with store.write() as s:
        leave(s, _a(s, people["ana"]), s.get_one(Member, people["ana"].id))
    with store.read() as s:
        notes = list_notifications(s, _a(s, people["ben"]), s.get_one(Cohort, cohort.id))
    assert notes and "Ana" not in json.dumps(notes) and "former member" in json.dumps(notes)


def test_an_instructor_removes_posts_keeping_the_thread(
    store: Store, cohort: Cohort, people: dict[str, Member], scene: dict
) -> None:
    with store.write() as s:
        report = leave(
            s, SYSTEM, s.get_one(Member, people["ana"].id), reason="asked by email", posts="remove"
        )
    assert report.posts == "remove" and report.posts_removed == 2
    with store.read() as s:
        ben, c = _a(s, people["ben"]), s.get_one(Cohort, cohort.id)
        page = thread_page(s, ben, c, ANCHOR)
        top = next(p for p in page["posts"] if p["id"] == scene["top"])
        assert top["removed"] and top["html"] == "" and top["markdown"] is None
        assert [r["id"] for r in top["replies"]] == [scene["answer"]]  # the reply stays
        assert top["replies"][0]["html"]
        assert search(s, ben, c, "zanzibar")["posts"] == []  # the words left the index
        assert s.get_one(Post, scene["top"]).body_md == ""
        log = s.scalars(select(Activity).where(Activity.verb == "member.leave")).one()
        assert log.data["posts"] == "remove" and log.data["by"] == "system"


def test_leaving_twice_changes_nothing(
    store: Store, cohort: Cohort, people: dict[str, Member], scene: dict
) -> None:
    with store.write() as s:
        leave(s, _a(s, people["ana"]), s.get_one(Member, people["ana"].id))
    with store.read() as s:
        before = s.scalar(select(func.count()).select_from(Activity))
        left_at = s.get_one(Member, people["ana"].id).left_at
    with store.write() as s:
        again = leave(s, SYSTEM, s.get_one(Member, people["ana"].id), reason="x", posts="remove")
    assert again.already and again.posts_removed == 0
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(Activity)) == before
        assert s.get_one(Member, people["ana"].id).left_at == left_at
        assert s.get_one(Post, scene["top"]).body_md  # not removed the second time
    with store.write() as s, pytest.raises(Conflict) as err:
        set_active(s, SYSTEM, s.get_one(Member, people["ana"].id), True)
    assert err.value.field == "member"
    with store.write() as s, pytest.raises(Forbidden):
        mint_token(s, SYSTEM, s.get_one(Member, people["ana"].id))


@pytest.mark.parametrize("who", ["ben", "chi", "fay", "sam"])
def test_only_an_instructor_makes_someone_else_leave(
    store: Store, people: dict[str, Member], who: str
) -> None:
    with store.write() as s, pytest.raises(Forbidden):
        leave(s, _a(s, people[who]), s.get_one(Member, people["ana"].id), reason="no")
    with store.read() as s:
        assert s.get_one(Member, people["ana"].id).left_at is None


def test_bad_leave_requests_are_refused_naming_the_field(
    store: Store, people: dict[str, Member]
) -> None:
    ana_id = people["ana"].id
    with store.write() as s, pytest.raises(Invalid) as err:
        leave(s, _a(s, people["ivo"]), s.get_one(Member, ana_id), reason=" ")
    assert err.value.field == "reason"
    with store.write() as s, pytest.raises(Invalid) as err:
        leave(s, _a(s, people["ivo"]), s.get_one(Member, ana_id), reason="x", posts="burn")
    assert err.value.field == "posts"
    with store.write() as s, pytest.raises(Invalid) as err:
        leave(s, _a(s, people["ivo"]), s.get_one(Member, ana_id), reason="x" * 501)
    assert err.value.field == "reason"
    with store.write() as s, pytest.raises(Forbidden) as err:
        leave(s, _a(s, people["ana"]), s.get_one(Member, ana_id), posts="remove")
    assert err.value.field == "posts"  # a member cannot override the charter's rule
    with store.write() as s:  # another cohort's instructor: the member does not exist for them
        other = create_cohort(s, SYSTEM, "autumn-26", "Autumn")
        boss = add_member(s, SYSTEM, other, name="Oz", email="oz@example.org", role="instructor")
        s.flush()
        with pytest.raises(NotFound):
            leave(s, Actor.of(boss), s.get_one(Member, ana_id), reason="x")
    with store.read() as s:
        assert s.get_one(Member, ana_id).left_at is None


def test_the_instructor_leave_applies_the_charter_rule_by_default(
    store: Store, cohort: Cohort, people: dict[str, Member], scene: dict
) -> None:
    apply_text(store, cohort_toml(steps=False, extra='\n[leaving]\nposts = "remove"\n'), utcnow())
    with store.read() as s:
        assert posts_rule(s.get_one(Cohort, cohort.id)) == "remove"
    with store.write() as s:
        report = leave(s, _a(s, people["ivo"]), s.get_one(Member, people["ana"].id), reason="r")
    assert report.posts == "remove" and report.posts_removed == 2


def test_the_config_rule_applies_without_a_cohort_file(
    store: Store, people: dict[str, Member], scene: dict
) -> None:
    with store.write() as s:
        report = leave(
            s,
            _a(s, people["ana"]),
            s.get_one(Member, people["ana"].id),
            settings=PrivacySettings(posts_when_leaving="remove"),
        )
    assert report.posts == "remove"


def test_a_review_owed_in_an_open_round_is_named_and_left_for_the_backup_pool(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    with store.write() as s:
        rnd = ReviewRound(cohort_id=cohort.id, assignment="project-1", status="open")
        s.add(rnd)
        s.flush()
        ben_sub = ReviewSubmission(round_id=rnd.id, author_id=people["ben"].id)
        ana_sub = ReviewSubmission(round_id=rnd.id, author_id=people["ana"].id)
        s.add_all([ben_sub, ana_sub])
        s.flush()
        s.add(Allocation(round_id=rnd.id, reviewer_id=people["ana"].id, submission_id=ben_sub.id))
    with store.write() as s:
        report = leave(s, _a(s, people["ana"]), s.get_one(Member, people["ana"].id))
    assert report.owed_reviews == ["project-1"]
    with store.read() as s:
        alloc = s.scalars(select(Allocation)).one()
        assert alloc.status == "assigned" and not alloc.reviewer.active  # reassign moves it
        kept = s.scalars(
            select(ReviewSubmission).where(ReviewSubmission.author_id == people["ana"].id)
        )
        assert kept.one().author.username == "ana"  # the work she submitted stays with staff
        assert s.scalars(select(ApiToken).where(ApiToken.revoked.is_(False))).all() == []


def test_two_requests_to_leave_at_once_leave_once(
    store: Store, people: dict[str, Member], scene: dict
) -> None:
    from tests.helpers.community import race

    ana_id = people["ana"].id
    reports = []

    def go(s):
        reports.append(leave(s, SYSTEM, s.get_one(Member, ana_id), reason="r", posts="remove"))

    assert race(store, go, go) == []
    assert sorted(r.already for r in reports) == [False, True]
    with store.read() as s:
        assert (
            s.scalar(
                select(func.count()).select_from(Activity).where(Activity.verb == "member.leave")
            )
            == 1
        )


def test_digests_queued_after_leaving_name_a_former_member_and_none_goes_to_them(
    tmp_path, store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    from nbcohort.cohorts.config import MailSettings
    from nbcohort.cohorts.mail import Mailer, queue_digests
    from nbcohort.cohorts.models import clock_at

    t0 = utcnow()
    with clock_at(t0 + timedelta(hours=1)), store.write() as s:
        c = s.get_one(Cohort, cohort.id)
        top = create_post(s, _a(s, people["ben"]), c, ANCHOR, "Ben asks, cc @ana")
        create_post(s, _a(s, people["ana"]), c, ANCHOR, "Ana answers @ben", parent_id=top.id)
    with store.write() as s:
        leave(s, _a(s, people["ana"]), s.get_one(Member, people["ana"].id))
    mailer = Mailer(MailSettings(digest_idle_hours=72), str(tmp_path / "data"))
    with clock_at(t0 + timedelta(hours=80)):
        assert queue_digests(store, mailer).queued >= 1
    with store.read() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "digest")).all()
    assert rows and "ana@example.org" not in {r.to_addr for r in rows}
    for row in rows:
        assert "Ana Souza" not in row.body_text + row.body_html + row.subject
    assert any("former member" in r.body_text for r in rows)  # the reply, by whom it now says
