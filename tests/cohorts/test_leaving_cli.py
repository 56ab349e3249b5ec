"""``nbcohort roster leave`` and ``roster export`` run as an instructor runs them (a real
process, a real config): what they print, what they change, and every bad argument."""

from __future__ import annotations

import json
import zipfile

import pytest
from sqlalchemy import select

from nbcohort.cohorts.models import Activity, Cohort, Member, Post
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.posts import create_post
from nbcohort.cohorts.store import Store
from tests.cohorts.test_cli import course, nbcohort  # noqa: F401 - the fixture, as a user sets up

pytestmark = pytest.mark.slow


@pytest.fixture
def roster(course):  # noqa: F811
    folder, env = course
    csv = folder / "roster.csv"
    csv.write_text(
        "name,email,team,role\nAna Souza,ana@example.org,Red,learner\n"
        "Ben Okafor,ben@example.org,Blue,learner\n",
        "utf-8",
    )
    assert nbcohort(env, "roster", "import", str(csv)).returncode == 0
    store = Store.open(f"sqlite:///{folder / '.nbcohort' / 'nbcohort.sqlite'}")
    with store.write() as s:
        c = s.scalars(select(Cohort)).one()
        ana, ben = (
            s.scalars(select(Member).where(Member.username == u)).one() for u in ("ana", "ben")
        )
        top = create_post(s, Actor.of(ana), c, "module-1/a", "Ana's question")
        create_post(s, Actor.of(ben), c, "module-1/a", "Ben's answer", parent_id=top.id)
    yield folder, env, store
    store.close()


def test_an_instructor_makes_a_member_leave_removing_their_posts(roster):
    folder, env, store = roster
    done = nbcohort(env, "roster", "leave", "ana", "--posts=remove", "--reason=asked by email")
    assert done.returncode == 0, done.stderr
    assert "ana left: posts remove (1 removed)" in done.stdout
    with store.read() as s:
        ana = s.scalars(select(Member).where(Member.username == "ana")).one()
        assert ana.name == "former member" and ana.email is None and ana.left_at is not None
        posts = {p.body_md: p for p in s.scalars(select(Post))}
        assert set(posts) == {"", "Ben's answer"}  # the reply stays
        log = s.scalars(select(Activity).where(Activity.verb == "member.leave")).one()
        assert log.data["reason"] == "asked by email" and log.data["posts"] == "remove"
    again = nbcohort(env, "roster", "leave", "ana", "--reason=again")
    assert again.returncode == 0 and "had already left; nothing changed" in again.stdout
    assert "ana" not in nbcohort(env, "roster", "list").stdout.split(",")
    zipped = folder / "ben.zip"
    out = nbcohort(env, "roster", "export", "ben", str(zipped))
    assert out.returncode == 0, out.stderr
    z = zipfile.ZipFile(zipped)
    assert [p["markdown"] for p in json.loads(z.read("posts.json"))] == ["Ben's answer"]
    assert list(folder.glob(".ben.zip.*")) == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["ana", "--posts=burn", "--reason=x"], "--posts must be keep or remove"),
        (["ana", "--posts=keep"], "--reason is required"),
        (["nobody", "--reason=x"], "no member 'nobody'"),
        ([], "missing the member"),
    ],
)
def test_bad_leave_arguments_change_nothing(roster, args, says):
    _folder, env, store = roster
    result = nbcohort(env, "roster", "leave", *args)
    assert result.returncode == 2 and says in result.stderr, result.stderr
    with store.read() as s:
        assert s.scalars(select(Member.left_at)).all() == [None, None]


def test_the_leave_report_says_which_owed_reviews_moved_and_which_stayed(roster):
    """ana owes ben's review in two open rounds: one whose packets the service keeps (it
    moves, to the facilitator), one whose packets are in the course folder (it stays)."""
    from nbcohort.cohorts.services.leaving_reviews import FOLDER_PACKETS
    from nbcohort.cohorts.services.members import add_member
    from tests.cohorts.test_leaving_backup import _round

    _folder, env, store = roster
    with store.write() as s:
        cohort = s.scalars(select(Cohort)).one()
        people = {m.username: m for m in s.scalars(select(Member))}
        people["fay"] = add_member(
            s, Actor.system(), cohort, name="Fay Lind", email="fay@example.org",
            role="facilitator", username="fay",
        )  # fmt: skip
    _round(store, cohort, people, [("ana", "ben", "assigned")], assignment="p1")
    _round(store, cohort, people, [("ana", "ben", "assigned")], assignment="p2", packets="")
    done = nbcohort(env, "roster", "leave", "ana", "--reason=left the company")
    assert done.returncode == 0, done.stderr
    assert "1 review(s) owed in the open round 'p1' moved to the backup pool" in done.stdout
    assert f"'p2' not moved: {FOLDER_PACKETS}" in done.stdout
    assert "nbcohort review reassign p2 --due" in done.stdout and "fay" not in done.stdout
