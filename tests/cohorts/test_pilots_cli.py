"""Ideas and pilots as a facilitator runs them from the command line (real processes, a real
config): ideas list/decline, pilots make/list/update, each bad input refused naming it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from nbcohort.cohorts.models import Member
from nbcohort.cohorts.services import posts
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_registry import get_cohort
from nbcohort.cohorts.services.ideas import endorse_idea, mark_idea
from nbcohort.cohorts.store import Store
from tests.cohorts.test_cli import course, nbcohort  # noqa: F401 - the fixture, as a user sets up
from tests.cohorts.test_recognition_cli import ROSTER
from tests.cohorts.test_rhythm_cli import ok

pytestmark = pytest.mark.slow


def refused(result, words: str) -> None:
    assert result.returncode == 2 and words in result.stderr, (result.stdout, result.stderr)


def test_ideas_and_pilots_from_the_command_line(course, tmp_path):  # noqa: F811
    folder, env = course
    (tmp_path / "r.csv").write_text(ROSTER, "utf-8")
    ok(nbcohort(env, "roster", "import", str(tmp_path / "r.csv")))
    store = Store.open(f"sqlite:///{folder / '.nbcohort' / 'nbcohort.sqlite'}")
    try:
        with store.write() as s:
            cohort = get_cohort(s, "spring-26")
            who = {m.username: m for m in s.query(Member).filter_by(cohort_id=cohort.id)}
            ideas = []
            for text in ("Idea: a shared checklist", "Idea: pair reviews"):
                post = posts.create_post(s, Actor.of(who["ana"]), cohort, "module-1/a", text)
                s.flush()
                ideas.append(mark_idea(s, Actor.of(who["ana"]), post.id)["id"])
            endorse_idea(s, Actor.of(who["ben"]), ideas[0])
            who["cy"].active = False
    finally:
        store.close()
    listed = ok(nbcohort(env, "ideas", "list"))
    assert f"idea {ideas[0]} [open] 1/5 by ana in module-1/a: Idea: a shared checklist" in listed
    assert "no ideas escalated" in ok(nbcohort(env, "ideas", "list", "--state=escalated"))
    assert nbcohort(env, "ideas", "list", "--state=maybe").returncode != 0
    refused(nbcohort(env, "ideas", "decline", str(ideas[1])), "a reason is required")
    refused(nbcohort(env, "ideas", "decline", "99999", "--reason=x"), "no idea 99999")
    refused(nbcohort(env, "ideas", "decline", "x1", "--reason=x"), "must be a number")
    ok(nbcohort(env, "ideas", "decline", str(ideas[1]), "--reason=Covered by the checklist"))
    review = (date.today() + timedelta(days=30)).isoformat()
    make = ["pilots", "make", str(ideas[0]), "--goal=Fewer errors", "--measure=Errors a week"]
    refused(nbcohort(env, *make, f"--review-on={review}"), "a pilot needs an owner")
    refused(nbcohort(env, *make, "--owner=cy", f"--review-on={review}"), "no longer an active")
    refused(nbcohort(env, *make, "--owner=zed", f"--review-on={review}"), "no member 'zed'")
    refused(nbcohort(env, *make, "--owner=ben", "--review-on=2001-02-03"), "in the past")
    refused(nbcohort(env, *make, "--owner=ben", "--review-on=soon"), "YYYY-MM-DD")
    made = ok(nbcohort(env, *make, "--owner=ben", f"--review-on={review}", "--title=Checklist"))
    assert f"made from idea {ideas[0]}, owner ben" in made
    refused(nbcohort(env, *make, "--owner=ben", f"--review-on={review}"), "already piloted")
    listed = ok(nbcohort(env, "pilots", "list"))
    assert f"[active] Checklist · owner ben · review on {review} · 0 updates" in listed
    pilot_id = listed.split()[1]
    update = ["pilots", "update", pilot_id]
    refused(nbcohort(env, *update), "a status update needs a note")
    refused(nbcohort(env, *update, "--note=x", "--status=done"), "a done pilot needs an outcome")
    ok(nbcohort(env, *update, "--note=Two teams on board"))
    ok(nbcohort(env, *update, "--note=Closing", "--status=done", "--outcome=Errors halved"))
    listed = ok(nbcohort(env, "pilots", "list", "--status=done"))
    assert "[done] Checklist" in listed and "outcome: Errors halved" in listed
    backfill = ok(nbcohort(env, "badges", "backfill"))
    assert "1 pilot-owner" in backfill
