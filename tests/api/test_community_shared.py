"""The community's shared library, events and member directory through a real ``nbcohort
serve`` and the client, on SQLite and PostgreSQL (one service per database for the module):
every graduated cohort of the community is in them, each marked with its cohort; a cohort not
yet graduated is refused and sees nothing of the others; another community is never listed;
members who left are "former member" in the library and absent from the directory; hidden
badges stay hidden; bad pages and odd search strings are refused by name or matched
literally."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import select

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.models import (
    Activity,
    AppliedPractice,
    Artifact,
    BadgeAward,
    Cohort,
    Event,
    Member,
    utcnow,
)
from nbcohort.cohorts.services.artifacts import share_artifact
from nbcohort.cohorts.services.auth import Actor, mint_token
from nbcohort.cohorts.services.badge_awards import set_recognition_prefs
from nbcohort.cohorts.services.community_directory import community_members, set_directory_opt_in
from nbcohort.cohorts.services.community_library import community_artifacts, community_events
from nbcohort.cohorts.services.community_reuse import copy_community_artifact
from nbcohort.cohorts.services.errors import Forbidden, Invalid
from nbcohort.cohorts.services.graduation import graduate
from nbcohort.cohorts.services.leaving import leave
from nbcohort.cohorts.services.members import set_active
from nbcohort.cohorts.store import Store
from tests.conftest import fresh_database
from tests.helpers.graduation import cohort_of, make_cohort
from tests.helpers.processes import ServiceProcess

pytestmark = pytest.mark.slow
SYSTEM = Actor.system()
HOSTILE = '<img src=x onerror="alert(1)">'


@dataclass
class World:
    service: ServiceProcess
    store: Store
    tokens: dict[str, str]
    clients: list[CohortClient]

    def as_(self, who: str) -> CohortClient:
        """A client for ``<name>-<cohort>`` (ana, ben: alumni after graduation; chi; fay;
        ivo; sam the sponsor)."""
        made = CohortClient(self.service.url, self.tokens[who], timeout=30)
        self.clients.append(made)
        return made


def _populate(store: Store) -> dict[str, str]:
    """spring and autumn graduated into pandas-practice, summer in it but not graduated,
    elsewhere graduated into sql-practice; an artifact and a clinic in each; ben-autumn
    left (after sharing); chi-spring hides badges; ana-spring holds a badge and applied;
    everyone chose to be listed in the directory (default: not listed)."""
    people = {
        slug: make_cohort(store, slug, community)
        for slug, community in (
            ("spring", "pandas-practice"),
            ("autumn", "pandas-practice"),
            ("summer", "pandas-practice"),
            ("elsewhere", "sql-practice"),
        )
    }
    soon = utcnow() + timedelta(days=3)
    with store.write() as s:
        for slug, members in people.items():
            cohort = s.get_one(Cohort, cohort_of(store, slug).id)
            for member in members.values():  # before ben-autumn leaves: leaving unlists
                assert s.get_one(Member, member.id).directory_opt_in is False  # the default
                set_directory_opt_in(s, SYSTEM, s.get_one(Member, member.id), True)
            for who, title in (("ana", f"{slug} merge checks"), ("ben", f"{slug} {HOSTILE}")):
                share_artifact(s, Actor.of(s.get_one(Member, members[who].id)), cohort,
                               filename=f"{who}.py", content=b"print(1)\n", title=title,
                               tags=[slug, "pandas"])  # fmt: skip
            s.add(Event(cohort_id=cohort.id, kind="clinic", title=f"{slug} clinic",
                        starts_at=soon, ends_at=soon + timedelta(hours=1)))  # fmt: skip
            if slug != "summer":
                graduate(s, SYSTEM, cohort)
        spring = people["spring"]
        s.add(BadgeAward(member_id=spring["ana"].id, badge="first-post", reason="a first post"))
        s.add(BadgeAward(member_id=spring["chi"].id, badge="first-post", reason="a first post"))
        s.add(AppliedPractice(cohort_id=spring["ana"].cohort_id, member_id=spring["ana"].id,
                              practice="tidy-data"))  # fmt: skip
        s.get_one(Member, spring["ivo"].id).team = "Blue_%team"  # wildcards, as text
        set_recognition_prefs(s, SYSTEM, s.get_one(Member, spring["chi"].id), badges_hidden=True)
        leave(s, SYSTEM, s.get_one(Member, people["autumn"]["ben"].id), reason="moved on")
        tokens = {}
        for slug, members in people.items():
            for name, member in members.items():
                if (slug, name) != ("autumn", "ben"):
                    tokens[f"{name}-{slug}"] = mint_token(
                        s, SYSTEM, s.get_one(Member, member.id), "test"
                    )
    return tokens


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("cop")
    with fresh_database(request, request.param, tmp) as url:
        store = Store.open(url)
        tokens = _populate(store)
        service = ServiceProcess(tmp, url).start()
        made = World(service, store, tokens, [])
        yield made
        for c in made.clients:
            c.close()
        service.stop()
        store.close()


def _refused(call, status: int, says: str) -> ClientError:
    with pytest.raises(ClientError) as refused:
        call()
    assert refused.value.status == status, refused.value.message
    assert says in refused.value.message, refused.value.message
    return refused.value


def test_the_library_spans_the_graduated_cohorts_of_the_community(world):
    for who in ("ana-spring", "sam-spring", "fay-autumn"):
        library = world.as_(who).community_artifacts()
        cohorts = {a["cohort"]["slug"] for a in library}
        assert cohorts == {"spring", "autumn"}, who  # never summer (not graduated), elsewhere
        assert all(a["mine"] == (a["cohort"]["slug"] == who.split("-")[1]) for a in library)
    library = world.as_("ana-spring").community_artifacts()
    left = next(a for a in library if a["title"] == f"autumn {HOSTILE}")
    assert left["author"]["name"] == "former member" and left["author"]["username"] == ""
    assert "email" not in left["author"]
    assert "content_b64" not in left and "content" not in left
    elsewhere = {a["cohort"]["slug"] for a in world.as_("ana-elsewhere").community_artifacts()}
    assert elsewhere == {"elsewhere"}


def test_the_library_searches_literally_by_title_file_and_tag(world):
    ana = world.as_("ana-spring")
    assert {a["title"] for a in ana.community_artifacts(q="MERGE checks")} == {
        "spring merge checks",
        "autumn merge checks",
    }
    assert [a["cohort"]["slug"] for a in ana.community_artifacts(tag="autumn")] == ["autumn"] * 2
    assert {a["title"] for a in ana.community_artifacts(q='"')} == {f"spring {HOSTILE}",
                                                                   f"autumn {HOSTILE}"}  # fmt: skip
    for odd in ("*", "%", "_", "NEAR", "-", "\\", "' OR 1=1 --", "ümlaut", '""'):
        assert ana.community_artifacts(q=odd) == [], odd  # no wildcard, no syntax
    assert len(ana.community_artifacts(q="<img")) == 2  # the hostile titles, as text
    assert len(ana.community_artifacts(limit=1)) == 1
    _refused(lambda: ana.community_artifacts(q="x" * 201), 422, "q is at most 200")
    _refused(lambda: ana.community_artifacts(q="a\u202eb"), 422, "U+202E")
    _refused(lambda: ana.community_artifacts(limit=501), 422, "limit must be at most 500")


def test_events_of_every_cohort_in_the_community(world):
    events = world.as_("ben-spring").community_events()
    assert {e["cohort"]["slug"] for e in events} == {"spring", "autumn"}  # never summer's
    titles = [e["title"] for e in events]
    assert "autumn clinic" in titles and "spring clinic" in titles and "summer clinic" not in titles
    theirs = next(e for e in events if e["title"] == "autumn clinic")
    assert theirs["mine"] is False and theirs["signed_up"] is False
    theirs_only = world.as_("sam-elsewhere").community_events()
    assert {e["cohort"]["slug"] for e in theirs_only} == {"elsewhere"}
    assert "elsewhere clinic" in [e["title"] for e in theirs_only]
    _refused(lambda: world.as_("ana-spring").community_events(days=367), 422, "days")


def test_the_directory_lists_who_is_in_the_community(world):
    sam = world.as_("sam-spring")  # sponsors see it
    listed = sam.community_members(per_page=200)
    cohorts = {m["cohort"]["slug"] for m in listed["members"]}
    assert cohorts == {"spring", "autumn"}
    names = [m["name"] for m in listed["members"]]
    assert listed["total"] == 11 and len(names) == 11  # 2 x 6, less ben-autumn who left
    assert "Ben autumn" not in names and "former member" not in names
    assert names == sorted(names, key=str.casefold)
    ana = next(m for m in listed["members"] if m["name"] == "Ana spring")
    assert ana["role"] == "alumni" and ana["team"] == "red"
    assert [b["badge"] for b in ana["badges"]] == ["first-post"]
    assert ana["shared"] == 1 and ana["applied"] == 1 and "email" not in ana
    chi = next(m for m in listed["members"] if m["name"] == "Chi spring")
    assert chi["badges"] == []  # hidden from others, even staff of another cohort
    own = world.as_("chi-spring").community_members(q="chi spring")["members"]
    assert [b["badge"] for b in own[0]["badges"]] == ["first-post"]  # but not from herself


def test_the_directory_search_and_pages(world):
    fay = world.as_("fay-autumn")
    assert [m["name"] for m in fay.community_members(q="IVO")["members"]] == [
        "Ivo autumn",
        "Ivo spring",
    ]
    assert fay.community_members(q="RED")["total"] == 10  # all but Ivo spring (Blue_%team)
    assert [m["name"] for m in fay.community_members(q="_%")["members"]] == ["Ivo spring"]
    assert fay.community_members(q="blue_%TEAM")["total"] == 1
    for odd in ("*", '"', "NEAR", "\\", "' OR 1=1 --", "🙂", "%%", "__"):
        assert fay.community_members(q=odd)["members"] == [], odd
    first = fay.community_members(per_page=4)
    assert first["pages"] == 3 and len(first["members"]) == 4
    last = fay.community_members(page=3, per_page=4)
    assert len(last["members"]) == 3
    past = fay.community_members(page=99_999, per_page=4)
    assert past["members"] == [] and past["total"] == 11
    _refused(lambda: fay.community_members(page=100_001), 422, "page must be at most 100000")
    _refused(lambda: fay.community_members(page=10**40), 422, "page")
    _refused(lambda: fay.community_members(page=0), 422, "page must be at least 1")
    _refused(lambda: fay.community_members(per_page=201), 422, "per_page")
    _refused(lambda: fay.community_members(q="x" * 101), 422, "q is at most 100")
    _refused(lambda: fay.community_members(q="a\x00b"), 422, "U+0000")


@pytest.mark.parametrize("who", ["ana-summer", "sam-summer", "ivo-summer"])
def test_a_cohort_not_graduated_sees_nothing_of_the_community(world, who):
    member = world.as_(who)
    for call in (member.community_artifacts, member.community_events, member.community_members):
        _refused(call, 403, "has not graduated")


def test_another_communitys_ids_are_not_found(world):
    ana = world.as_("ana-elsewhere")
    names = {m["cohort"]["slug"] for m in ana.community_members(per_page=200)["members"]}
    assert names == {"elsewhere"}
    spring_artifact = next(
        a["id"] for a in world.as_("ana-spring").community_artifacts(tag="spring")
    )
    _refused(lambda: ana.request("GET", f"/api/v1/artifacts/{spring_artifact}"), 404, "no artifact")
    # and a copy from another cohort of the same community stays its cohort's
    autumn = world.as_("ana-autumn")
    _refused(lambda: autumn.request("POST", f"/api/v1/artifacts/{spring_artifact}/copies"), 404,
             "no artifact")  # fmt: skip


def test_the_services_refuse_wrong_types_and_skip_deactivated_members(world):
    """The rules hold below the API too (the CLI and pages call the services): wrong types
    are refused naming the field, and a deactivated member is not listed."""
    store = world.store
    with store.write() as s:
        ben = s.scalars(select(Member).where(Member.username == "ben-elsewhere")).one()
        set_active(s, SYSTEM, ben, False)
        ana = s.scalars(select(Member).where(Member.username == "ana-elsewhere")).one()
        actor, cohort = Actor.of(ana), s.get_one(Cohort, ana.cohort_id)
        names = [m["name"] for m in community_members(s, actor, cohort, per_page=200)["members"]]
        assert "Ana elsewhere" in names and "Ben elsewhere" not in names
        for field, bad in (("page", "2"), ("page", True), ("per_page", 2.0), ("q", 5)):
            with pytest.raises(Invalid) as refused:
                community_members(s, actor, cohort, **{field: bad})
            assert refused.value.field == field
        with pytest.raises(Invalid, match="limit"):
            community_artifacts(s, actor, cohort, limit=10**9)
        with pytest.raises(Invalid, match="days"):
            community_events(s, actor, cohort, days=0)


def _artifact_id(world: World, who: str, tag: str, filename: str) -> int:
    found = world.as_(who).community_artifacts(tag=tag)
    return next(a["id"] for a in found if a["filename"] == filename)


def _reuses(world: World, artifact_id: int) -> int:
    library = world.as_("fay-spring").community_artifacts(limit=500)
    return next(a["reuses"] for a in library if a["id"] == artifact_id)


def test_a_member_copies_another_cohorts_artifact_and_credits_it(world):
    spring_ana = _artifact_id(world, "ana-spring", "spring", "ana.py")
    autumn = world.as_("ana-autumn")
    got = autumn.copy_community_artifact(spring_ana)
    assert got["content"] == b"print(1)\n" and got["filename"] == "ana.py"
    assert got["cohort"] == {"slug": "spring", "title": "Cohort spring"}
    assert got["author"]["name"] == "Ana spring" and "email" not in got["author"]
    assert got["title"] == "spring merge checks" and got["license"]
    assert _reuses(world, spring_ana) == 1
    autumn.copy_community_artifact(spring_ana)  # five copies are not five reuses
    assert _reuses(world, spring_ana) == 1
    world.as_("sam-autumn").copy_community_artifact(spring_ana)  # sponsors read the library
    assert _reuses(world, spring_ana) == 2
    world.as_("ana-spring").copy_community_artifact(spring_ana)  # its author: no reuse
    assert _reuses(world, spring_ana) == 2
    with world.store.read() as s:  # the reuse is logged in the cohort it was shared in
        rows = s.execute(
            select(Activity.cohort_id, Activity.member_id, Activity.data).where(
                Activity.verb == "artifact.reuse", Activity.object_id == spring_ana
            )
        ).all()
        spring = cohort_of(world.store, "spring").id
        copier = s.scalars(select(Member.id).where(Member.username == "ana-autumn")).one()
    assert {r.cohort_id for r in rows} == {spring} and len(rows) == 2
    assert any(r.member_id == copier and r.data["from_cohort"] == "autumn" for r in rows)


def test_an_artifact_whose_author_left_is_copied_as_a_former_members(world):
    left = _artifact_id(world, "ana-spring", "autumn", "ben.py")
    got = world.as_("chi-spring").copy_community_artifact(left)
    assert got["author"]["name"] == "former member" and got["content"] == b"print(1)\n"


def test_copies_never_cross_communities_or_graduation(world):
    spring_ana = _artifact_id(world, "ana-spring", "spring", "ana.py")
    elsewhere = _artifact_id(world, "ana-elsewhere", "elsewhere", "ana.py")
    summer_id = cohort_of(world.store, "summer").id
    with world.store.read() as s:
        summer = s.scalars(
            select(Artifact.id).where(
                Artifact.cohort_id == summer_id, Artifact.filename == "ana.py"
            )
        ).one()
    before = _reuses(world, spring_ana)
    for who, artifact_id in (("ana-elsewhere", spring_ana), ("ivo-spring", elsewhere),
                             ("ana-spring", summer)):  # fmt: skip
        client = world.as_(who)
        _refused(partial(client.copy_community_artifact, artifact_id), 404, "no artifact")
    for who in ("ana-summer", "sam-summer"):  # not graduated: the reason, for any id
        client = world.as_(who)
        _refused(partial(client.copy_community_artifact, spring_ana), 403, "not graduated")
    ana = world.as_("ana-spring")
    for raw in ("999999999999999999", "0", "-1", "1e3", "abc", "1%2F..%2F2"):
        path = f"/api/v1/community/artifacts/{raw}/copies"
        _refused(partial(ana.request, "POST", path), 404, "")
    assert _reuses(world, spring_ana) == before


def test_the_copy_service_refuses_wrong_ids_by_name(world):
    with world.store.write() as s:
        ana = s.scalars(select(Member).where(Member.username == "ana-spring")).one()
        actor, cohort = Actor.of(ana), s.get_one(Cohort, ana.cohort_id)
        for bad in ("5", 5.0, True, None, 0, -3, 2**70):
            with pytest.raises(Invalid) as refused:
                copy_community_artifact(s, actor, cohort, bad)
            assert refused.value.field == "artifact_id"


def _listed(world: World, who: str) -> list[str]:
    return [m["name"] for m in world.as_(who).community_members(per_page=200)["members"]]


def test_the_directory_lists_only_members_who_chose_to_be_listed(world):
    chi = world.as_("chi-autumn")
    assert chi.me()["member"]["directory_opt_in"] is True
    assert chi.set_directory_opt_in(False)["directory_opt_in"] is False
    try:
        assert chi.me()["member"]["directory_opt_in"] is False
        for who in ("sam-spring", "chi-autumn"):  # nobody sees them, themselves included
            assert "Chi autumn" not in _listed(world, who)
        assert world.as_("fay-spring").community_members()["total"] == 10
        assert chi.community_members(q="chi autumn")["members"] == []
    finally:
        assert chi.set_directory_opt_in(True)["directory_opt_in"] is True
    assert "Chi autumn" in _listed(world, "sam-spring")
    # a member of a cohort not yet graduated may choose ahead of graduation
    assert world.as_("ben-summer").set_directory_opt_in(True)["directory_opt_in"] is True
    for bad in ("yes", 1, None, [], {"x": True}):
        body = {"directory_opt_in": bad}
        _refused(partial(chi.request, "PUT", "/api/v1/me/directory", json=body), 422, "directory")
    _refused(lambda: chi.request("PUT", "/api/v1/me/directory", json={}), 422, "directory_opt_in")


def test_only_the_member_chooses_and_a_member_who_left_is_never_listed(world):
    with world.store.write() as s:
        fay = s.scalars(select(Member).where(Member.username == "fay-spring")).one()
        ana = s.scalars(select(Member).where(Member.username == "ana-spring")).one()
        ivo = s.scalars(select(Member).where(Member.username == "ivo-spring")).one()
        for actor in (Actor.of(fay), Actor.of(ivo)):  # staff cannot list or unlist a member
            with pytest.raises(Forbidden, match="choose for themselves"):
                set_directory_opt_in(s, actor, ana, False)
        for bad in ("true", 1, None):
            with pytest.raises(Invalid) as refused:
                set_directory_opt_in(s, Actor.of(ana), ana, bad)
            assert refused.value.field == "directory_opt_in"
        left = s.scalars(select(Member).where(Member.username == "ben-autumn")).one()
        assert left.directory_opt_in is False  # chose it before leaving: leaving took it back
        with pytest.raises(Forbidden, match="left"):
            set_directory_opt_in(s, SYSTEM, left, True)
        left.directory_opt_in = True  # a row from before that rule: still never listed
    assert "Ben autumn" not in _listed(world, "ana-spring")


def _skills_of(world: World, who: str, name: str, **query) -> list[str] | None:
    found = world.as_(who).community_members(per_page=200, **query)["members"]
    return next((m["skills"] for m in found if m["name"] == name), None)


def test_skills_show_in_the_directory_for_members_who_are_listed(world):
    ana = world.as_("ana-autumn")
    mine = ana.set_directory_skills(["pandas", "SQL", "sql", "  data  viz ", "C++"])
    assert mine["directory_skills"] == ["pandas", "SQL", "data viz", "C++"]
    assert ana.me()["member"]["directory_skills"] == ["pandas", "SQL", "data viz", "C++"]
    assert _skills_of(world, "sam-spring", "Ana autumn") == ["pandas", "SQL", "data viz", "C++"]
    assert _skills_of(world, "fay-spring", "Ana spring") == []  # set none
    # found by one whole skill, in any case; never by a part of one
    fay = world.as_("fay-spring")
    for skill in ("PANDAS", "sql", "Data  Viz", "c++"):
        found = fay.community_members(skill=skill)
        assert [m["name"] for m in found["members"]] == ["Ana autumn"], skill
    assert fay.community_members(skill="data")["members"] == []
    assert fay.community_members(skill="pandas", q="spring")["total"] == 0  # both filters
    nobody = fay.community_members(skill="rust")
    assert nobody["total"] == 0 and nobody["skill"] == "rust"
    _refused(lambda: fay.community_members(skill="<script>"), 422, "skill")
    _refused(lambda: fay.community_members(skill="x" * 10_000), 422, "skill")
    # the library's authors and other member views never carry skills
    assert all("skills" not in a["author"] for a in fay.community_artifacts())


def test_skills_are_never_shown_for_a_member_who_is_not_listed(world):
    chi = world.as_("chi-autumn")
    chi.set_directory_skills(["dashboards"])
    assert _skills_of(world, "ana-spring", "Chi autumn") == ["dashboards"]
    chi.set_directory_opt_in(False)
    try:
        for who in ("ana-spring", "sam-spring", "fay-autumn", "chi-autumn"):
            assert world.as_(who).community_members(skill="dashboards")["members"] == [], who
            assert _skills_of(world, who, "Chi autumn") is None, who
        assert chi.me()["member"]["directory_skills"] == ["dashboards"]  # still hers
    finally:
        chi.set_directory_opt_in(True)
    assert [m["name"] for m in world.as_("sam-spring").community_members(skill="DASHBOARDS")[
        "members"]] == ["Chi autumn"]  # fmt: skip
    # a member of a cohort not yet graduated may set them ahead of graduation
    assert world.as_("ana-summer").set_directory_skills(["sql"])["directory_skills"] == ["sql"]


def test_bad_skills_are_refused_by_name_and_nothing_is_saved(world):
    ivo = world.as_("ivo-autumn")
    ivo.set_directory_skills(["teaching"])
    put = partial(ivo.request, "PUT", "/api/v1/me/directory/skills")
    for body, says in (
        ({"skills": ["<script>alert(1)</script>"]}, "may hold only letters, digits"),
        ({"skills": ["x" * 10_000]}, "10000 characters long; at most 40"),
        ({"skills": [f"skill {i}" for i in range(500)]}, "at most 12 skills (500 given)"),
        ({"skills": "pandas"}, "skills must be a list"),
        ({"skills": {"a": 1}}, "skills must be a list"),
        ({"skills": [7]}, "each skill must be text"),
        ({"skills": None}, "skills must be a list"),
        ({}, "skills is required"),
    ):
        refused = _refused(partial(put, json=body), 422, says)
        assert len(refused.message) < 300
    assert ivo.me()["member"]["directory_skills"] == ["teaching"]  # unchanged
    assert ivo.set_directory_skills([])["directory_skills"] == []
