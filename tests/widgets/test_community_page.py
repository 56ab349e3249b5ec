"""The community-of-practice page's widget against a real service, and its sections as pure
functions: before graduation it gives the service's reason and nothing else; after it, each
section appears only when its data exists, member text is escaped, and an empty community
says so in words."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.cohort_checks import check_cohort_file
from nbcohort.cohorts.models import Artifact, Cohort, Member
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_apply import apply_cohort_file
from nbcohort.cohorts.services.graduation import graduate
from nbcohort.cohorts.services.posts import create_post
from nbcohort.widgets.community_page import CommunityPage, community_page
from nbcohort.widgets.display.community_sections import community_sections, member_items
from nbcohort.widgets.display.sections import Refused
from tests.helpers.graduation import cohort_file, make_cohort

HOSTILE = '<img src=x onerror="window.__pwned=1">'
COMMUNITY = {
    "name": "pandas-practice",
    "title": "Pandas practice",
    "cohorts": [
        {"slug": "spring", "title": "Spring", "graduated_at": "2027-04-01T10:00:00+00:00",
         "alumni": 12, "mine": True},
        {"slug": "autumn", "title": HOSTILE, "graduated_at": None, "alumni": 0, "mine": False},
    ],
}  # fmt: skip


def test_an_empty_community_says_so_in_words():
    data = {"community": COMMUNITY, "artifacts": [], "topics": [], "events": []}
    sections = community_sections(data)
    assert [s.key for s in sections] == ["cohorts", "empty"]
    assert "no shared artifacts, topics, pilots or events yet" in sections[1].html
    assert HOSTILE not in sections[0].html and "&lt;img" in sections[0].html
    assert "12 alumni" in sections[0].html and "(yours)" in sections[0].html


def test_before_graduation_only_the_reason_is_shown():
    data = {"community": Refused("cohort 'spring' has not graduated")}
    sections = community_sections(data)
    assert [(s.key, s.title) for s in sections] == [("community", "Community of practice")]
    assert "Not available: cohort &#x27;spring&#x27; has not graduated" in sections[0].html


def test_each_section_appears_when_its_data_exists():
    artifact = {"title": HOSTILE, "author": {"name": "Ana"}, "license": "CC-BY-4.0",
                "reuses": 3, "tags": ["pandas", "merge"]}  # fmt: skip
    topic = {"name": "merge-tips", "title": "Merge tips", "cohort": {"title": "Spring"},
             "posts": 4, "last_post_at": "2027-04-02T10:00:00+00:00"}  # fmt: skip
    pilot = {"title": "Automate the weekly report", "owner": {"name": "Chi"},
             "status": "running", "outcome": "2 hours saved a week"}  # fmt: skip
    data = {
        "community": COMMUNITY,
        "artifacts": [artifact],
        "topics": [topic],
        "events": Refused("the calendar is not reachable"),
        "pilots": {"pilots": [pilot]},
        "course_threads": [{"anchor": "module-1/loading", "title": "", "posts": 2,
                            "cohort": {"title": "Autumn"}, "last_post_at": None}],
    }  # fmt: skip
    sections = {s.key: s for s in community_sections(data)}
    assert list(sections) == [
        "cohorts", "artifacts", "topics", "course_threads", "pilots", "events"
    ]  # fmt: skip
    assert "module-1/loading" in sections["course_threads"].html
    assert "Autumn · read-only · 2 posts" in sections["course_threads"].html
    library = sections["artifacts"].html
    assert "reused 3 times" in library and "licence CC-BY-4.0" in library
    assert "pandas (1)" in library and HOSTILE not in library
    assert "topic/merge-tips" in sections["topics"].html and "4 posts" in sections["topics"].html
    assert "Outcome: 2 hours saved a week" in sections["pilots"].html
    assert "Not available: the calendar is not reachable" in sections["events"].html
    without_pilots = community_sections({**data, "pilots": []})
    assert "pilots" not in {s.key for s in without_pilots}


@pytest.fixture
def applied(store, cohort):
    spec, _ = check_cohort_file(cohort_file(cohort.slug, "pandas-practice"), "c.toml")
    assert spec is not None
    with store.write() as s:
        apply_cohort_file(s, Actor.system(), spec, "sha")
    return cohort


@pytest.mark.slow
def test_the_page_before_and_after_graduation(
    as_member, applied, people, store, service, tokens, tmp_path
):
    as_member("ana")
    before = community_page()
    assert isinstance(before, CommunityPage)
    assert [s.key for s in before.sections] == ["community"]
    assert "has not graduated" in before.sections[0].html
    autumn = make_cohort(store, "autumn", "pandas-practice")  # another cohort, same community
    with store.write() as s:
        graduate(s, Actor.system(), s.get_one(Cohort, applied.id))
        other = s.scalars(select(Cohort).where(Cohort.slug == "autumn")).one()
        create_post(s, Actor.of(autumn["ana"]), other, "module-2/groupby", "groupby in autumn")
        graduate(s, Actor.system(), other)
    make_cohort(store, "elsewhere", "sql-practice")  # not this community: never shown
    with store.write() as s:  # the directory is opt-in: here everyone chose to be listed
        for member in s.scalars(select(Member)):
            member.directory_opt_in = True
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    ana.share("merge.py", b"print(1)\n", "Merge checks", tags=["merge"])
    ana.start_topic("merge-tips", "Merge tips", "How do you check a merge?")
    ana.close()
    as_member("ben")
    page = community_page()
    assert isinstance(page, CommunityPage)
    keys = [s.key for s in page.sections]
    assert keys[:3] == ["cohorts", "artifacts", "topics"] and "empty" not in keys
    text = "".join(s.html for s in page.sections if s.key != "members")
    assert "Merge checks" in text and "Merge tips" in text and "Ben Okafor" not in text
    assert "course_threads" in keys and "module-2/groupby" in text and "read-only" in text
    assert "Cohort autumn" in text and "elsewhere" not in text
    # the member directory: both cohorts of the community, never another community's
    assert keys[-1] == "members" and page.directory is not None
    listed = page.directory.results.value
    assert "Ben Okafor" in listed and "Ana autumn" in listed and "elsewhere" not in listed
    assert "12 members · page 1 of 1" in listed  # six in each cohort
    assert page.directory.listed.value is True
    page.directory.listed.value = False  # Ben leaves the directory, from the widget
    assert "You are not listed" in page.directory.status.value
    assert "11 members" in page.directory.results.value
    assert "Ben Okafor" not in page.directory.results.value
    page.directory.listed.value = True
    assert "Ben Okafor" in page.directory.results.value
    page.directory.query.value = "AUTUMN"  # searching asks the service again
    assert "Ana autumn" in page.directory.results.value
    assert "Ben Okafor" not in page.directory.results.value
    page.directory.query.value = "%_*"
    assert "No member found for" in page.directory.results.value
    page.directory.query.value = ""
    # Ben's skills, from the widget: saved as the service cleaned them, shown, found by one
    assert page.directory.skills.value == ""
    page.directory.skills.value = "pandas, SQL, sql,  data   viz , "
    assert page.directory.set_skills() == ["pandas", "SQL", "data viz"]
    assert page.directory.skills.value == "pandas, SQL, data viz"
    assert "Your skills are saved." in page.directory.status.value
    assert "skills: pandas, SQL, data viz" in page.directory.results.value
    page.directory.skill.value = "Data Viz"
    assert "1 member · page 1 of 1" in page.directory.results.value
    assert "Ben Okafor" in page.directory.results.value
    page.directory.skill.value = "rust"
    assert "No member found with the skill &#x27;rust&#x27;" in page.directory.results.value
    page.directory.skill.value = ""
    page.directory.skills.value = "<script>alert(1)</script>"  # refused by the service, by name
    assert page.directory.set_skills() is None
    assert "may hold only letters, digits" in page.directory.status.value
    assert "<script>" not in page.directory.status.value
    assert page.directory.skills.value == "<script>alert(1)</script>"  # kept to correct
    page.directory.listed.value = False  # unlisted: the skills are kept, never shown
    page.directory.skills.value = "pandas"
    assert page.directory.set_skills() == ["pandas"]
    assert "(shown once you are listed)" in page.directory.status.value
    page.directory.skill.value = "pandas"
    assert "Ben Okafor" not in page.directory.results.value
    page.directory.skill.value = ""
    page.directory.listed.value = True
    # the library search asks the community's library (every cohort's artifacts)
    assert page.library_search is not None
    page.library_search.query.value = "merge"
    assert "Merge checks" in page.library_search.results.value
    assert "Ana Souza · Cohort spring-26" in page.library_search.results.value
    # a copy of another cohort's artifact, whose stored name is hostile: saved as a new,
    # visible file in the folder, never through the link already there, never elsewhere
    with store.write() as s:
        other = s.scalars(select(Cohort).where(Cohort.slug == "autumn")).one()
        s.add(Artifact(cohort_id=other.id, author_id=autumn["chi"].id, title="Autumn pivots",
                       license="CC-BY-4.0", filename="../..\\.pivot\u202e.py", content=b"x = 1\n",
                       sha256="0" * 64, size=6))  # fmt: skip
    base = tmp_path / "copies"
    folder = base / "work"
    folder.mkdir(parents=True)
    outside = base / "outside.py"
    outside.write_bytes(b"mine\n")
    (folder / "pivot.py").symlink_to(outside)
    page.library_search.folder = folder
    page.library_search.query.value = "pivots"
    (copy,) = page.library_search.copies.children
    assert copy.description == "Get a copy of Autumn pivots"
    copy.click()
    said = page.library_search.status.value
    assert "saved a copy as pivot (2).py" in said and "Chi autumn, Cohort autumn" in said
    assert (folder / "pivot (2).py").read_bytes() == b"x = 1\n"
    assert outside.read_bytes() == b"mine\n"
    assert sorted(p.name for p in base.iterdir()) == ["outside.py", "work"]
    assert sorted(p.name for p in folder.iterdir()) == ["pivot (2).py", "pivot.py"]
    page.library_search.query.value = "x" * 201
    assert "q is at most 200 characters" in page.library_search.status.value


def test_the_directory_escapes_member_text_and_names_empty_pages():
    member = {"name": HOSTILE, "role": "alumni", "team": HOSTILE, "cohort": {"title": HOSTILE},
              "badges": [{"badge": "first-post", "title": HOSTILE}], "shared": 2,
              "applied": 1, "skills": [HOSTILE, "SQL"]}  # fmt: skip
    shown = member_items({"members": [member], "total": 1, "page": 1, "pages": 1, "q": ""})
    assert HOSTILE not in shown and shown.count("&lt;img") == 5
    assert "skills: &lt;img" in shown and ", SQL" in shown
    assert "shared 2 · applied 1" in shown and "1 member · page 1 of 1" in shown
    empty = member_items({"members": [], "total": 1, "page": 9, "pages": 1, "q": HOSTILE})
    assert "No member found for" in empty and "page 9 of 1" in empty and HOSTILE not in empty
    data = {"community": COMMUNITY, "artifacts": [], "topics": [], "events": [],
            "members": {"members": [member], "total": 1, "page": 1, "pages": 1}}  # fmt: skip
    assert [s.key for s in community_sections(data)] == ["cohorts", "empty", "members"]
    refused = community_sections({**data, "members": Refused("has not graduated")})
    assert "Not available: has not graduated" in refused[-1].html
