"""Parity: the same behavioural tests, with the same assertions, on nbgrader's default
filesystem exchange and on the nbcohort service exchange (a real ``nbcohort serve`` over
SQLite and PostgreSQL). Modelled on nbgrader's own app tests (nbgrader/tests/apps:
release_assignment, fetch_assignment, submit, list, collect, release_feedback,
fetch_feedback), driven in-process through nbgrader's ExchangeFactory."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from nbgrader.exchange import ExchangeError

from tests.helpers.exchange_service import shared_service
from tests.helpers.exchange_world import ExchangeWorld

__all__ = ["shared_service"]  # the module's one service per database (a fixture)
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("shared_service")]


@pytest.fixture(params=["filesystem", "service"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> ExchangeWorld:
    """The filesystem exchange once, the service exchange on each database."""
    if request.param == "filesystem":
        if request.node.callspec.params["shared_service"] != "sqlite":
            pytest.skip("the filesystem exchange has no database: one leg is enough")
        return ExchangeWorld(tmp_path, None)
    return ExchangeWorld(tmp_path, request.getfixturevalue("shared_service"))


def _released(world: ExchangeWorld, user: str, course: str) -> list[tuple[str, str, str]]:
    found = world.step("List", user, course, assignment="")
    return [(a["course_id"], a["assignment_id"], a["status"]) for a in found]


def _inbound(world: ExchangeWorld, course: str) -> dict[str, list[str]]:
    found = world.step("List", world.staff(course), course, assignment="", inbound=True)
    return {g["student_id"]: [s["timestamp"] for s in g["submissions"]] for g in found}


def _text(path: Path) -> str:
    return path.read_text("utf-8")


def test_release_fetch_submit_collect_and_feedback(world: ExchangeWorld) -> None:
    c = world.c1
    assert _released(world, "ana", c) == []
    world.step("ReleaseAssignment", "ivo", c)
    assert _released(world, "ana", c) == [(c, "ps1", "released")]
    with pytest.raises(ExchangeError):  # released twice without --force
        world.step("ReleaseAssignment", "ivo", c)
    world.step("ReleaseAssignment", "ivo", c, force=True)

    world.step("FetchAssignment", "ana", c)
    assert (world.home("ana") / "ps1" / "p1.ipynb").is_file()
    assert _released(world, "ana", c) == [(c, "ps1", "fetched")]
    with pytest.raises(ExchangeError):  # a second fetch would overwrite the learner's work
        world.step("FetchAssignment", "ana", c)
    (world.home("ana") / "ps1" / "p1.ipynb").unlink()
    world.step("FetchAssignment", "ana", c, replace_missing_files=True)
    assert (world.home("ana") / "ps1" / "p1.ipynb").is_file()

    world.answer("ana", "first answer")
    world.step("Submit", "ana", c)
    inbound = _inbound(world, c)
    assert list(inbound) == ["ana"] and len(inbound["ana"]) == 1
    world.answer("ana", "second answer")
    world.step("Submit", "ana", c)  # resubmit: both kept, in order
    stamps = _inbound(world, c)["ana"]
    assert len(stamps) == 2 and stamps == sorted(stamps)
    mine = world.step("List", "ana", c, assignment="", cached=True)
    assert [len(g["submissions"]) for g in mine] == [2]

    world.step("Collect", "ivo", c)
    got = world.submitted(c, "ana")
    assert "second answer" in _text(got / "p1.ipynb")
    assert _text(got / "timestamp.txt") == stamps[-1]

    world.write_feedback(c, "ana")
    world.step("ReleaseFeedback", "ivo", c)
    world.step("FetchFeedback", "ana", c)
    pages = sorted((world.home("ana") / "ps1" / "feedback").rglob("*.html"))
    assert [p.name for p in pages] == ["p1.html"]
    assert pages[0].parent.name == stamps[-1]
    assert "feedback for ana" in _text(pages[0])


def test_late_submission_and_collect_before_the_due_date(world: ExchangeWorld) -> None:
    c = world.c1
    world.step("ReleaseAssignment", "ivo", c)
    world.step("FetchAssignment", "ben", c)
    world.answer("ben", "on time")
    world.step("Submit", "ben", c)
    world.set_due(c, datetime.now(UTC).replace(tzinfo=None))
    world.answer("ben", "late")
    world.step("Submit", "ben", c)  # nbgrader accepts a late submission; autograde marks it

    world.step("Collect", "ivo", c, before_duedate=True)
    assert "late" not in _text(world.submitted(c, "ben") / "p1.ipynb")
    world.step("Collect", "ivo", c, update=True)
    assert "late" in _text(world.submitted(c, "ben") / "p1.ipynb")
    world.step("Collect", "ivo", c, before_duedate=True)
    assert "late" not in _text(world.submitted(c, "ben") / "p1.ipynb")


def test_two_courses_side_by_side(world: ExchangeWorld) -> None:
    world.step("ReleaseAssignment", "ivo", world.c1)
    world.step("ReleaseAssignment", "ina", world.c2)
    assert _released(world, "ana", world.c1) == [(world.c1, "ps1", "released")]
    assert _released(world, "ana", world.c2) == [(world.c2, "ps1", "released")]
    home = world.home("zed")
    world.step("FetchAssignment", "zed", world.c2)
    assert f"{world.c2} ps1" in _text(home / "ps1" / "p1.ipynb")
    world.step("Submit", "zed", world.c2)
    assert list(_inbound(world, world.c2)) == ["zed"]
    assert _inbound(world, world.c1) == {}


def test_a_student_not_in_the_course_is_refused(world: ExchangeWorld) -> None:
    world.step("ReleaseAssignment", "ivo", world.c1)
    with pytest.raises(ExchangeError):
        world.step("FetchAssignment", "zed", world.c1)
    assert not (world.home("zed") / "ps1").exists()
    world.step("FetchAssignment", "ben", world.c1)
    (world.home("ben") / "ps1").rename(world.home("zed") / "ps1")  # a copy from a friend
    with pytest.raises(ExchangeError):
        world.step("Submit", "zed", world.c1)
    assert _inbound(world, world.c1) == {}


def test_staff_take_a_release_back(world: ExchangeWorld) -> None:
    """``nbgrader list --remove`` by staff: learners no longer list or fetch the assignment;
    what was handed in stays with staff; releasing it again needs no ``--force``."""
    c = world.c1
    world.step("ReleaseAssignment", "ivo", c)
    world.step("FetchAssignment", "ana", c)
    world.step("Submit", "ana", c)
    removed = world.step("List", "ivo", c, remove=True)
    assert [(a["assignment_id"], a["status"]) for a in removed] == [("ps1", "removed")]
    assert _released(world, "ben", c) == []
    with pytest.raises(ExchangeError):
        world.step("FetchAssignment", "ben", c)
    assert sorted(_inbound(world, c)) == ["ana"]
    world.step("ReleaseAssignment", "ivo", c)  # again: no --force needed
    assert _released(world, "ben", c) == [(c, "ps1", "released")]


def test_a_learner_removes_their_own_submissions_from_their_list(world: ExchangeWorld) -> None:
    """``nbgrader list --cached --remove``: the learner's record goes (their list, their
    feedback); the submission stays with staff, who list and collect it; another learner's
    stays in their list; the learner may submit again."""
    c = world.c1
    world.step("ReleaseAssignment", "ivo", c)
    for who in ("ana", "ben"):
        world.step("FetchAssignment", who, c)
        world.step("Submit", who, c)
    removed = world.step("List", "ana", c, cached=True, remove=True)
    assert [(g["student_id"], g["status"], len(g["submissions"])) for g in removed] == [
        ("ana", "removed", 1)
    ]
    assert world.step("List", "ana", c, assignment="", cached=True) == []
    assert [len(g["submissions"]) for g in world.step("List", "ben", c, cached=True)] == [1]
    assert sorted(_inbound(world, c)) == ["ana", "ben"]  # staff still have it
    world.step("Collect", "ivo", c)
    assert (world.submitted(c, "ana") / "p1.ipynb").is_file()
    world.write_feedback(c, "ana")
    world.step("ReleaseFeedback", "ivo", c)
    world.step("FetchFeedback", "ana", c)  # on a submission no longer in her list: none
    assert not (world.home("ana") / "ps1" / "feedback").exists()
    world.step("Submit", "ana", c)
    again = world.step("List", "ana", c, assignment="", cached=True)
    assert [len(g["submissions"]) for g in again] == [1]
