"""What the command line prints of member-written text reaches the instructor's terminal
without its control and direction-changing characters (real processes, a real config):
``ideas list`` and ``pilots list`` show U+FFFD in their place."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from nbcohort.cohorts.models import Member, Pilot
from nbcohort.cohorts.plain_text import for_terminal
from nbcohort.cohorts.services import posts
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_registry import get_cohort
from nbcohort.cohorts.services.ideas import mark_idea
from nbcohort.cohorts.services.pilots import make_pilot
from nbcohort.cohorts.store import Store
from tests.cohorts.test_cli import course, nbcohort  # noqa: F401 - the fixture, as a user sets up
from tests.cohorts.test_recognition_cli import ROSTER
from tests.cohorts.test_rhythm_cli import ok

pytestmark = pytest.mark.slow
EVIL = "\x1b]0;owned\x07\x1b[2Jplan\u202eevil\r"


def test_for_terminal_makes_every_control_and_direction_character_visible() -> None:
    assert (
        for_terminal("a\x1b[31mb\u202ec\u2066d\n\te\x9bf")
        == "a\ufffd[31mb\ufffdc\ufffdd\ufffd\ufffde\ufffdf"
    )
    assert for_terminal("👩‍💻 café") == "👩‍💻 café"  # joiners and letters stay


def test_ideas_and_pilots_lists_print_no_escape_sequences(course, tmp_path):  # noqa: F811
    folder, env = course
    (tmp_path / "r.csv").write_text(ROSTER, "utf-8")
    ok(nbcohort(env, "roster", "import", str(tmp_path / "r.csv")))
    store = Store.open(f"sqlite:///{folder / '.nbcohort' / 'nbcohort.sqlite'}")
    try:
        with store.write() as s:
            cohort = get_cohort(s, "spring-26")
            who = {m.username: m for m in s.query(Member).filter_by(cohort_id=cohort.id)}
            post = posts.create_post(s, Actor.of(who["ana"]), cohort, "module-1/a", f"Idea {EVIL}")
            s.flush()
            idea = mark_idea(s, Actor.of(who["ana"]), post.id)["id"]
            review = (date.today() + timedelta(days=30)).isoformat()
            made = make_pilot(
                s, Actor.system(), cohort, idea,
                owner_id=who["ben"].id, goal="g", measure="m", review_on=review,
            )  # fmt: skip
            pilot = s.get_one(Pilot, made["id"])  # as stored before titles were checked
            pilot.title, pilot.status, pilot.outcome = f"T {EVIL}", "done", f"O {EVIL}"
            who["ben"].name = f"Ben {EVIL}"
    finally:
        store.close()
    for listed in (ok(nbcohort(env, "ideas", "list")), ok(nbcohort(env, "pilots", "list"))):
        assert "\x1b" not in listed and "\u202e" not in listed and "\r" not in listed, listed
        assert "plan\ufffdevil" in listed, listed
