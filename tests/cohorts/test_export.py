"""A member's export through the real services layer on SQLite and PostgreSQL: the ZIP read
back, nobody else's name, email or username anywhere in it, hostile file names made
harmless, the size limit, and two exports at once each complete."""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile
from datetime import date, timedelta

import pytest

from nbcohort.cohorts.config import PrivacySettings
from nbcohort.cohorts.models import (
    Allocation,
    AppliedPractice,
    Artifact,
    BadgeAward,
    CharterAck,
    Cohort,
    ExchangeFile,
    Member,
    Review,
    ReviewRound,
    ReviewSubmission,
)
from nbcohort.cohorts.services.artifacts import share_artifact
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.calendar_link import rotate_calendar_link
from nbcohort.cohorts.services.errors import Forbidden
from nbcohort.cohorts.services.exchange_blobs import FolderBlobs
from nbcohort.cohorts.services.export import ExportTooLarge, safe_name, write_export
from nbcohort.cohorts.services.ideas import endorse_idea, mark_idea
from nbcohort.cohorts.services.leaving import leave
from nbcohort.cohorts.services.pilots import make_pilot, update_pilot
from nbcohort.cohorts.services.posts import create_post, react
from nbcohort.cohorts.services.skills import set_directory_skills
from nbcohort.cohorts.store import Store

HOSTILE = "../../../etc/passwd\u202e\x1b[31m.ipynb"  # a name an old import could hold


@pytest.fixture
def ana_data(store: Store, cohort: Cohort, people: dict[str, Member]) -> dict[str, int]:
    """Ana wrote posts naming others, shared files, reviewed Ben's work, has a badge."""
    with store.write() as s:
        c = s.get_one(Cohort, cohort.id)
        ana = Actor.of(s.get_one(Member, people["ana"].id))
        ben = Actor.of(s.get_one(Member, people["ben"].id))
        q = create_post(s, ben, c, "module-1/a", "Ben Okafor asks: how do I read this?")
        create_post(
            s, ana, c, "module-1/a",
            "@ben try this; Chi Nguyen and fay@example.org showed me. Ivo agrees.",
            parent_id=q.id,
        )  # fmt: skip
        mine = create_post(s, ana, c, "module-1/b", "My own question, Sam Reyes please look")
        react(s, ben, mine.id, "helpful")
        share_artifact(
            s, ana, c, filename="checklist.py", content=b"print('mine')\n", title="Checklist"
        )
        s.add(
            Artifact(
                cohort_id=c.id, author_id=ana.member_id, title="old import", license="MIT",
                filename=HOSTILE, content=b"\x00\x01binary", sha256="0" * 64, size=8,
            )
        )  # fmt: skip
        rnd = ReviewRound(cohort_id=c.id, assignment="project-1", status="closed")
        s.add(rnd)
        s.flush()
        sub = ReviewSubmission(round_id=rnd.id, author_id=ben.member_id)
        s.add(sub)
        s.flush()
        alloc = Allocation(round_id=rnd.id, reviewer_id=ana.member_id, submission_id=sub.id)
        s.add(alloc)
        s.flush()
        s.add(
            Review(
                allocation_id=alloc.id, scores={"clarity": 3},
                comments={"clarity": "ben, the plots are clear"},
                overall_comment="Good work, Ben Okafor", draft=False,
            )
        )  # fmt: skip
        s.add(
            BadgeAward(
                member_id=ana.member_id, badge="first-post", reason="welcomed by chi",
                awarded_by=people["fay"].id,
            )
        )  # fmt: skip
        s.add(
            AppliedPractice(
                cohort_id=c.id, member_id=ana.member_id, practice="checklist", note="with Ben"
            )
        )
        s.add(CharterAck(cohort_id=c.id, member_id=ana.member_id, version=1))
        return {"ana": ana.member_id or 0}


def _export(store: Store, member_id: int, settings: PrivacySettings | None = None) -> bytes:
    out = io.BytesIO()
    with store.read(snapshot=True) as s:
        write_export(s, s.get_one(Member, member_id), out, settings)
    return out.getvalue()


def _everything(data: bytes) -> tuple[zipfile.ZipFile, str]:
    z = zipfile.ZipFile(io.BytesIO(data))
    assert z.testzip() is None
    text = "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return z, text + "\n" + "\n".join(z.namelist())


def test_the_export_holds_my_data_and_no_one_elses(
    store: Store, people: dict[str, Member], ana_data: dict[str, int]
) -> None:
    with store.write() as s:  # her directory skills (services/skills.py) are hers to take
        set_directory_skills(s, Actor.system(), s.get_one(Member, ana_data["ana"]), ["SQL"])
        rotate_calendar_link(s, Actor.system(), s.get_one(Member, ana_data["ana"]))
    z, text = _everything(_export(store, ana_data["ana"]))
    names = set(z.namelist())
    assert {"README.txt", "member.json", "posts.json", "artifacts.json", "reviews.json",
            "badges.json", "applied.json", "charter.json", "pulse.json"} <= names  # fmt: skip
    for name in names:  # never a path out of the folder it is unpacked in
        assert not name.startswith("/") and ".." not in name.split("/") and "\x00" not in name
    me = json.loads(z.read("member.json"))
    assert me["name"] == "Ana Souza" and me["email"] == "ana@example.org"
    assert me["directory_opt_in"] is False  # the directory choice, off until she chooses
    assert me["directory_skills"] == ["SQL"]
    assert me["calendar_link_version"] == 1  # her calendar link was replaced once
    posts = json.loads(z.read("posts.json"))
    assert len(posts) == 2
    assert [p["reactions"] for p in posts if p["thread"] == "module-1/b"] == [{"helpful": 1}]
    arts = json.loads(z.read("artifacts.json"))
    by_title = {a["title"]: a for a in arts}
    assert z.read(by_title["Checklist"]["file"]) == b"print('mine')\n"
    hostile = by_title["old import"]["file"]
    assert hostile.startswith("artifacts/") and hostile.count("/") == 2
    assert z.read(hostile) == b"\x00\x01binary"
    reviews = json.loads(z.read("reviews.json"))
    assert reviews[0]["scores"] == {"clarity": 3} and "author" not in reviews[0]
    assert json.loads(z.read("badges.json"))[0]["badge"] == "first-post"
    assert json.loads(z.read("applied.json"))[0]["practice"] == "checklist"
    assert json.loads(z.read("charter.json"))[0]["version"] == 1
    for username, member in people.items():
        if username == "ana":
            continue
        for word in (member.name, member.email, username, *member.name.split()):
            assert not re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.I), (word, text)
    assert "a member" in text


def test_safe_names_never_leave_the_folder() -> None:
    bad = [HOSTILE, "a\x00b.py", "..", "/abs/x.py", "a\\..\\b.py", "\n\r", "", ".hidden"]
    for name in [*bad, "x" * 500]:
        safe = safe_name(name)
        assert safe and "/" not in safe and "\\" not in safe and not safe.startswith(".")
        assert len(safe) <= 100 and all(ord(c) >= 32 for c in safe)


def test_an_export_over_the_limit_is_refused_naming_the_setting(
    store: Store, ana_data: dict[str, int]
) -> None:
    with pytest.raises(ExportTooLarge) as err:
        _export(store, ana_data["ana"], PrivacySettings(export_max_bytes=1024))
    assert err.value.status == 413 and err.value.field == "export_max_bytes"


def test_a_member_who_left_has_nothing_to_export(
    store: Store, people: dict[str, Member], ana_data: dict[str, int]
) -> None:
    with store.write() as s:
        member = s.get_one(Member, ana_data["ana"])
        leave(s, Actor.of(member), member)
    with pytest.raises(Forbidden):
        _export(store, ana_data["ana"])


def test_others_exports_do_not_name_a_member_who_left(
    store: Store, people: dict[str, Member], ana_data: dict[str, int]
) -> None:
    with store.write() as s:
        member = s.get_one(Member, ana_data["ana"])
        leave(s, Actor.of(member), member)
    _z, text = _everything(_export(store, people["ben"].id))
    for word in ("Ana Souza", "ana@example.org", "ana"):
        assert not re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.I), word


def test_two_exports_at_once_are_each_complete(
    store: Store, cohort: Cohort, people: dict[str, Member], ana_data: dict[str, int]
) -> None:
    results: list[bytes] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            results.append(_export(store, ana_data["ana"]))
        except BaseException as exc:
            errors.append(exc)

    def writer() -> None:
        with store.write() as s:
            ana = Actor.of(s.get_one(Member, ana_data["ana"]))
            for i in range(20):
                create_post(s, ana, s.get_one(Cohort, cohort.id), "module-2/x", f"post {i}")

    threads = [threading.Thread(target=one), threading.Thread(target=writer),
               threading.Thread(target=one)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 2
    for data in results:
        z, _ = _everything(data)
        assert len(json.loads(z.read("posts.json"))) in (2, 22)  # before or after, never half


def test_hostile_and_non_latin_names_are_found_and_words_are_left_alone(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    from nbcohort.cohorts.services.members import add_member
    from tests.helpers.community import SYSTEM

    with store.write() as s:
        c = s.get_one(Cohort, cohort.id)
        for name, username in [("Seán O'Brien", "s.ob"), ("نور حداد", "nour"),
                               ("Ana.*+?(", "regex")]:  # fmt: skip
            add_member(s, SYSTEM, c, name=name, email=f"{username}@example.org", username=username)
        ana = Actor.of(s.get_one(Member, people["ana"].id))
        create_post(
            s, ana, c, "module-1/a",
            "ask s.ob. or SEÁN O'BRIEN! نور حداد agrees, @nour too; benefit chinos "
            "(mail NOUR@example.org.) regex Ana.*+?(",
        )  # fmt: skip
    z, _text = _everything(_export(store, people["ana"].id))
    [post] = json.loads(z.read("posts.json"))
    assert post["markdown"] == (
        "ask a member. or a member! a member agrees, a member too; benefit chinos "
        "(mail a member.) a member a member?("
    )


def test_the_export_holds_my_ideas_endorsements_pilots_and_names_no_one_else(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    """Ana's idea (endorsed by Ben, made a pilot she owns, with her update naming Ben), and
    the idea of Ben's she endorsed: in her export, with Ben's and Fay's names nowhere."""
    with store.write() as s:
        c = s.get_one(Cohort, cohort.id)
        ana, ben, fay = (Actor.of(s.get_one(Member, people[u].id)) for u in ("ana", "ben", "fay"))
        mine = create_post(s, ana, c, "module-1/a", "Idea: a shared cleaning checklist")
        theirs = create_post(s, ben, c, "module-1/b", "Idea by Ben Okafor: weekly clinics")
        s.flush()
        my_idea = mark_idea(s, ana, mine.id)["id"]
        their_idea = mark_idea(s, ben, theirs.id)["id"]
        endorse_idea(s, ben, my_idea)
        endorse_idea(s, ana, their_idea)
        review_on = (date.today() + timedelta(days=60)).isoformat()
        pilot = make_pilot(
            s, fay, c, my_idea, owner_id=ana.member_id, goal="Fewer broken joins, says Fay",
            measure="joins fixed per week", review_on=review_on,
        )  # fmt: skip
        update_pilot(s, ana, c, pilot["id"], note="Ben Okafor tried it on his team's data")
    z, text = _everything(_export(store, people["ana"].id))
    ideas = json.loads(z.read("ideas.json"))
    assert [(i["post"], i["endorsements"], i["state"]) for i in ideas] == [(mine.id, 1, "piloted")]
    assert [e["idea"] for e in json.loads(z.read("endorsements.json"))] == [their_idea]
    pilots = json.loads(z.read("pilots.json"))
    assert [p["status"] for p in pilots] == ["active"] and len(pilots[0]["updates"]) == 1
    assert "a member tried it" in pilots[0]["updates"][0]["markdown"]
    assert json.loads(z.read("held_posts.json")) == json.loads(z.read("appeals.json")) == []
    for word in ("Ben", "Okafor", "Fay", "Lindqvist", "ben@example.org"):
        assert not re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text), (word, text)


def test_exchange_archives_a_link_or_a_missing_file_are_listed_not_followed(
    store: Store, cohort: Cohort, people: dict[str, Member], tmp_path
) -> None:
    """The exchange folder is the service's, but a file swapped for a link there (or gone)
    must never put another file into a member's export."""
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not ana's")
    blobs = tmp_path / "exchange" / "blobs"
    blobs.mkdir(parents=True)
    names = ["a" * 32 + ".tar", "b" * 32 + ".tar", "c" * 32 + ".tar", "../../secret.txt"]
    (blobs / names[0]).write_bytes(b"ana's work")
    (blobs / names[1]).symlink_to(secret)
    with store.write() as s:
        for blob in names:  # the third is missing; the fourth is not a name the service gives
            s.add(
                ExchangeFile(
                    cohort_id=cohort.id, kind="submission", assignment="ps1",
                    member_id=people["ana"].id, blob=blob, size=10, sha256="0" * 64,
                    notebooks=["p1.ipynb"],
                )
            )  # fmt: skip
    out = io.BytesIO()
    with store.read(snapshot=True) as s:
        counts = write_export(
            s, s.get_one(Member, people["ana"].id), out, None, FolderBlobs(tmp_path / "exchange")
        )
    z, text = _everything(out.getvalue())
    listed = json.loads(z.read("exchange.json"))
    assert counts["exchange"] == 4
    assert [item["file"] is not None for item in listed] == [True, False, False, False]
    assert z.read(listed[0]["file"]) == b"ana's work"
    assert "not ana's" not in text
