"""Champions across teams through the real services on SQLite and PostgreSQL: suggestions
cover teams first, never name who opted out, break ties the same way every time; appointing
is for instructors, refused for who left; champions pin, welcome and host."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from nbcohort.cohorts.models import (
    Activity,
    Artifact,
    ArtifactReuse,
    CadenceItem,
    Member,
    Notification,
    Post,
    PostPin,
    Thread,
    utcnow,
)
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.champion_actions import (
    MAX_PINS,
    host_routine,
    pin_post,
    pinned_posts,
    unpin_post,
    welcome_post,
)
from nbcohort.cohorts.services.champions import appoint_champion, suggest_champions
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.store import Store
from tests.helpers.community import race
from tests.helpers.timeline import SYSTEM, Timeline

BEFORE = "2026-02-25 12:00"


def set_team(t: Timeline, **teams: str) -> None:
    """Set teams on the members the timeline holds (it merges them into each unit of work)."""
    with t.at(BEFORE) as s:
        for who, team in teams.items():
            s.merge(t.members[who]).team = team
            t.members[who].team = team


def helpful(t: Timeline, who: str, n: int, when: str = "2026-03-02") -> None:
    """``who`` writes ``n`` replies that someone else marks helpful."""
    question = t.post(f"{when} 09:00", "asker", "a question")
    for i in range(n):
        reply = t.post(f"{when} 10:{i:02d}", who, "an answer", parent=question)
        t.react(f"{when} 11:{i:02d}", "asker", reply, "helpful")


def test_teams_are_covered_before_any_team_gets_a_second(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "asker", "a1", "a2", "a3", "b1", "c1")
    set_team(t, a1="red", a2="red", a3="red", b1="blue", c1="green")
    for who, n in (("a1", 5), ("a2", 4), ("a3", 3), ("b1", 1), ("c1", 2)):
        helpful(t, who, n)
    with store.read() as s:
        picks = suggest_champions(s, SYSTEM, s.merge(t.cohort), 4)
    assert [p.username for p in picks] == ["a1", "c1", "b1", "a2"]
    assert picks[0].why == "5 helpful replies; first champion for team red"
    assert picks[3].why.startswith("4 helpful replies; second champion for team red")


def test_present_champions_count_for_their_team(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "asker", "a1", "b1")
    t.join(BEFORE, "chi", role="champion")
    set_team(t, a1="red", b1="blue", chi="red")
    helpful(t, "a1", 5)
    helpful(t, "b1", 1)
    with store.read() as s:
        picks = suggest_champions(s, SYSTEM, s.merge(t.cohort), 1)
    assert [p.username for p in picks] == ["b1"]  # red has chi already


def test_opted_out_members_staff_and_left_members_are_never_suggested(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "asker", "out", "gone", "ok")
    t.join(BEFORE, "fay", role="facilitator")
    for who in ("out", "gone", "ok", "fay"):
        helpful(t, who, 2)
    with t.at("2026-03-03 00:00") as s:
        s.merge(t.members["out"]).champion_opt_out = True
        t.members["out"].champion_opt_out = True
    t.leave("2026-03-03 00:00", "gone")
    with store.read() as s:
        picks = suggest_champions(s, SYSTEM, s.merge(t.cohort), 12)
    assert [p.username for p in picks] == ["ok"]


def test_ties_are_decided_the_same_way_every_time(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "asker", "zed", "amy", "bob")
    for who in ("zed", "amy", "bob"):
        helpful(t, who, 1)
    with store.read() as s:
        runs = {
            tuple(p.username for p in suggest_champions(s, SYSTEM, s.merge(t.cohort), 3))
            for _ in range(3)
        }
    assert runs == {("amy", "bob", "zed")}  # one team (none): by username


def test_every_signal_counts(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "asker", "ana")
    artifact = t.share("2026-03-02 10:00", "ana")
    t.copy("2026-03-02 11:00", "asker", artifact)
    t.practices("2026-03-02 11:00", ["merge"])
    t.apply("2026-03-02 12:00", "ana", "merge")
    with store.read() as s:
        (pick,) = suggest_champions(s, SYSTEM, s.merge(t.cohort), 1)
    assert pick.signals == {
        "helpful_reply": 0,
        "review_rated_helpful": 0,
        "artifact_reused": 1,
        "practice_applied": 1,
    }
    assert pick.why.startswith("1 artifacts reused by others, 1 practices applied")


@pytest.mark.parametrize("count", [0, -1, 101, "3", 2.5, True, None])
def test_a_bad_count_is_refused_naming_it(store: Store, count: object) -> None:
    t = Timeline(store)
    with store.read() as s, pytest.raises(Invalid) as bad:
        suggest_champions(s, SYSTEM, s.merge(t.cohort), count)
    assert bad.value.field == "count"


def test_only_staff_ask_for_suggestions(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "ana")
    t.join(BEFORE, "chi", role="champion")
    with store.read() as s:
        for who in ("ana", "chi"):
            with pytest.raises(Forbidden):
                suggest_champions(s, t.actor(s, who), s.merge(t.cohort), 3)


# -- generated cohorts --------------------------------------------------------------------------
_TEAMS = st.lists(
    st.tuples(
        st.sampled_from(["red", "blue", "green", "gold", ""]),  # team
        st.integers(min_value=0, max_value=6),  # reuses of their artifacts (their score)
        st.booleans(),  # opted out
    ),
    min_size=1,
    max_size=25,
)
_slugs = iter(range(10**6))


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(people=_TEAMS, count=st.integers(min_value=1, max_value=15))
def test_generated_cohorts_cover_teams_and_respect_opt_outs(
    store: Store, people: list[tuple[str, int, bool]], count: int
) -> None:
    t = Timeline(store, slug=f"g{next(_slugs)}")
    now = utcnow()
    with store.write() as s:
        ids = []
        for i, (team, _score, out) in enumerate(people):
            m = Member(cohort_id=t.cohort.id, username=f"p{i:02d}", name=f"P{i}", email=None,
                       role="learner", team=team, champion_opt_out=out)  # fmt: skip
            s.add(m)
            s.flush()
            ids.append(m.id)
        taker = Member(cohort_id=t.cohort.id, username="taker", name="T", email=None, team="x9",
                       champion_opt_out=True)  # fmt: skip
        s.add(taker)
        s.flush()
        for member_id, (_team, score, _out) in zip(ids, people, strict=True):
            for k in range(score):
                art = Artifact(cohort_id=t.cohort.id, author_id=member_id, title="a", license="MIT",
                               filename="a.py", content=b"", sha256="0", size=0)  # fmt: skip
                s.add(art)
                s.flush()
                s.execute(insert(ArtifactReuse).values(artifact_id=art.id, member_id=taker.id,
                                                       created_at=now))  # fmt: skip
                s.execute(insert(Activity).values(cohort_id=t.cohort.id, member_id=taker.id,
                          verb="artifact.reuse", object_type="artifact", object_id=art.id,
                          data={}, at=now + timedelta(seconds=k)))  # fmt: skip
    with store.read() as s:
        picks = suggest_champions(s, SYSTEM, s.merge(t.cohort), count)
    eligible = [(f"p{i:02d}", team) for i, (team, score, out) in enumerate(people)
                if score > 0 and not out]  # fmt: skip
    assert len(picks) == min(count, len(eligible))
    assert all(not people[int(p.username[1:])][2] for p in picks)  # never an opted-out member
    per_team = Counter(p.team for p in picks)
    teams_with_candidates = {team for _, team in eligible}
    for team in teams_with_candidates:  # no team has two while another with candidates has none
        if per_team[team] == 0:
            assert all(n <= 1 for n in per_team.values()), (per_team, teams_with_candidates)
    scores = {f"p{i:02d}": score for i, (_, score, _) in enumerate(people)}
    for team in per_team:  # within a team, the best come first
        mine = [scores[p.username] for p in picks if p.team == team]
        assert mine == sorted(mine, reverse=True)


# -- appointing -----------------------------------------------------------------------------------
def test_appointing_is_for_instructors_and_logged(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "ana", "ben", "gone", "out")
    t.join(BEFORE, "fay", role="facilitator")
    t.join(BEFORE, "ivo", role="instructor")
    t.join(BEFORE, "sam", role="sponsor")
    t.leave("2026-03-01 00:00", "gone")
    with t.at("2026-03-01 00:00") as s:
        s.merge(t.members["out"]).champion_opt_out = True
        t.members["out"].champion_opt_out = True
    with t.at("2026-03-02 00:00") as s:
        cohort = s.merge(t.cohort)
        for who in ("fay", "ben"):
            with pytest.raises(Forbidden):
                appoint_champion(s, t.actor(s, who), cohort, s.merge(t.members["ana"]))
        with pytest.raises(Forbidden, match="left"):
            appoint_champion(s, t.actor(s, "ivo"), cohort, s.get_one(Member, t.members["gone"].id))
        with pytest.raises(Forbidden, match="asked not"):
            appoint_champion(s, t.actor(s, "ivo"), cohort, s.get_one(Member, t.members["out"].id))
        for who in ("fay", "sam"):
            with pytest.raises(Invalid, match="only learners and alumni"):
                appoint_champion(s, t.actor(s, "ivo"), cohort, s.merge(t.members[who]))
        appoint_champion(s, t.actor(s, "ivo"), cohort, s.merge(t.members["ana"]))
    with t.at("2026-03-02 01:00") as s, pytest.raises(Conflict):
        appoint_champion(
            s, t.actor(s, "ivo"), s.merge(t.cohort), s.get_one(Member, t.members["ana"].id)
        )
    with store.read() as s:
        assert s.scalar(select(Member.role).where(Member.username == "ana")) == "champion"
        log = s.execute(select(Activity.member_id, Activity.object_id, Activity.data)
                        .where(Activity.verb == "champion.appoint")).all()  # fmt: skip
    assert log == [(t.members["ivo"].id, t.members["ana"].id, {"previous": "learner"})]


def test_appointing_someone_of_another_cohort_is_refused(store: Store) -> None:
    t, other = Timeline(store), Timeline(store, slug="autumn")
    t.join(BEFORE, "ivo", role="instructor")
    other.join(BEFORE, "oz")
    with t.at("2026-03-02 00:00") as s, pytest.raises(Invalid) as bad:
        appoint_champion(s, t.actor(s, "ivo"), s.merge(t.cohort), s.merge(other.members["oz"]))
    assert bad.value.field == "member"


# -- champion actions -----------------------------------------------------------------------------
def test_champions_pin_posts_learners_cannot(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "ana", "ben")
    t.join(BEFORE, "chi", role="champion")
    posts = [t.post(f"2026-03-02 10:0{i}", "ana", f"post {i}") for i in range(MAX_PINS + 1)]
    with t.at("2026-03-02 11:00") as s:
        with pytest.raises(Forbidden):
            pin_post(s, t.actor(s, "ben"), posts[0])
        assert [pin_post(s, t.actor(s, "chi"), p) for p in posts[:MAX_PINS]] == [True] * MAX_PINS
        assert pin_post(s, t.actor(s, "chi"), posts[0]) is False  # again: nothing new
        with pytest.raises(Conflict):
            pin_post(s, t.actor(s, "chi"), posts[MAX_PINS])
        with pytest.raises(NotFound):
            pin_post(s, t.actor(s, "chi"), 2**31 - 1)
    with t.at("2026-03-02 12:00") as s:
        assert unpin_post(s, t.actor(s, "chi"), posts[1]) is True
        assert pinned_posts(s, t.actor(s, "ben"), s.merge(t.cohort), "module-1/loading-data") == [
            posts[0],
            posts[2],
        ]


def test_welcome_is_for_a_first_post_once(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "ana", "ben")
    t.join(BEFORE, "chi", role="champion")
    t.join(BEFORE, "cyd", role="champion")
    first = t.post("2026-03-02 10:00", "ana", "hello, I'm new")
    second = t.post("2026-03-02 10:05", "ana", "and again")
    own = t.post("2026-03-02 10:06", "chi", "my first")
    with t.at("2026-03-02 11:00") as s:
        with pytest.raises(Forbidden):
            welcome_post(s, t.actor(s, "ben"), first)
        with pytest.raises(Invalid, match="first post"):
            welcome_post(s, t.actor(s, "chi"), second)
        with pytest.raises(Invalid, match="yourself"):
            welcome_post(s, t.actor(s, "chi"), own)
        assert welcome_post(s, t.actor(s, "chi"), first) is True
        assert welcome_post(s, t.actor(s, "cyd"), first) is False  # welcomed already
    with store.read() as s:
        notes = s.execute(select(Notification.member_id, Notification.kind)).all()
    assert (t.members["ana"].id, "welcome") in notes
    assert sum(1 for _, k in notes if k == "welcome") == 1


def test_champions_host_a_planned_routine_first_come(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "ana")
    t.join(BEFORE, "chi", role="champion")
    t.join(BEFORE, "cyd", role="champion")
    with t.at("2026-03-01 00:00") as s:
        for key, kind in (("r1", "routine"), ("h1", "highlights")):
            due = utcnow() + timedelta(days=3)
            s.add(CadenceItem(cohort_id=t.cohort.id, key=key, kind=kind, title=key,
                              due_at=due, payload={"routine": "x"}))  # fmt: skip
    with t.at("2026-03-02 00:00") as s:
        cohort = s.merge(t.cohort)
        with pytest.raises(Forbidden):
            host_routine(s, t.actor(s, "ana"), cohort, "r1")
        with pytest.raises(NotFound):
            host_routine(s, t.actor(s, "chi"), cohort, "h1")  # not a routine
        assert host_routine(s, t.actor(s, "chi"), cohort, "r1")["host"] == "chi"
    with t.at("2026-03-02 00:01") as s, pytest.raises(Conflict, match="hosted by chi"):
        host_routine(s, t.actor(s, "cyd"), s.merge(t.cohort), "r1")
    with t.at("2026-03-09 00:00") as s, pytest.raises(Conflict, match="gone out"):
        host_routine(s, t.actor(s, "chi"), s.merge(t.cohort), "r1")
    with store.read() as s:
        payload = s.scalar(select(CadenceItem.payload).where(CadenceItem.key == "r1"))
        assert payload == {"routine": "x", "host": "chi"}
        assert s.scalar(select(Thread.id)) is None and s.scalar(select(Post.id)) is None


def test_two_champions_hosting_one_routine_at_once_the_second_is_refused(store: Store) -> None:
    """Each in their own connection, the first held open while the second asks: the second
    waits for the first and is told who hosts it (on PostgreSQL both used to succeed)."""
    t = Timeline(store)
    t.join(BEFORE, "chi", "cyd", role="champion")
    due = utcnow() + timedelta(days=3)  # the race runs now, not at BEFORE
    with t.at(BEFORE) as s:
        s.add(CadenceItem(cohort_id=t.cohort.id, key="r1", kind="routine", title="r1",
                          due_at=due, payload={}))  # fmt: skip

    def host(who: str):
        return lambda s: host_routine(s, Actor.of(s.merge(t.members[who])), s.merge(t.cohort), "r1")

    errors = race(store, host("chi"), host("cyd"))
    assert [type(e) for e in errors] == [Conflict] and "hosted by chi" in str(errors[0])
    with store.read() as s:
        assert s.scalar(select(CadenceItem.payload).where(CadenceItem.key == "r1")) == {
            "host": "chi"
        }
        hosted = select(func.count()).where(Activity.verb == "routine.host")
        assert s.scalar(hosted) == 1


def test_champions_pinning_at_once_never_pass_the_limit(store: Store) -> None:
    """Each of MAX_PINS + 2 champions pins a different post of one thread at the same moment,
    each in their own connection: the thread still keeps MAX_PINS pins, the rest are told."""
    t = Timeline(store)
    n = MAX_PINS + 2
    champions = [f"champ{i}" for i in range(n)]
    t.join(BEFORE, "ana")
    t.join(BEFORE, *champions, role="champion")
    posts = [t.post(f"2026-03-02 10:0{i}", "ana", f"post {i}") for i in range(n)]
    barrier = threading.Barrier(n)
    outcomes: list[object] = []

    def pin(who: str, post: int) -> None:
        other = Store.open(store.url)
        try:
            barrier.wait(10)
            with other.write() as s:
                outcomes.append(pin_post(s, Actor.of(s.merge(t.members[who])), post))
        except Conflict as exc:
            outcomes.append(exc)
        finally:
            other.close()

    threads = [threading.Thread(target=pin, args=w) for w in zip(champions, posts, strict=True)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert sorted(map(repr, outcomes)).count("True") == MAX_PINS
    assert len(outcomes) == n and all(o is True or isinstance(o, Conflict) for o in outcomes)
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(PostPin)) == MAX_PINS
