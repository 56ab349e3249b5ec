"""The recognition commands as an instructor runs them (real processes, a real config):
badges backfill/list/revoke, champions suggest/appoint, and a badge rule naming an event
kind that does not exist refused at ``cohort validate`` with file, key and line."""

from __future__ import annotations

import pytest

from nbcohort.cohorts.models import Member
from nbcohort.cohorts.services import posts
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_registry import get_cohort
from nbcohort.cohorts.store import Store
from tests.cohorts.test_cli import course, nbcohort  # noqa: F401 - the fixture, as a user sets up
from tests.cohorts.test_rhythm_cli import EXAMPLE, ok

pytestmark = pytest.mark.slow
ROSTER = (
    "name,email,team,role,username\n"
    "Ivo Petrov,ivo@example.org,,instructor,ivo\n"
    "Ana Souza,ana@example.org,Red,learner,ana\n"
    "Ben Okafor,ben@example.org,Blue,learner,ben\n"
    "Cy Gone,cy@example.org,Blue,learner,cy\n"
)


def test_badges_and_champions_from_the_command_line(course, tmp_path):  # noqa: F811
    folder, env = course
    (tmp_path / "r.csv").write_text(ROSTER, "utf-8")
    ok(nbcohort(env, "roster", "import", str(tmp_path / "r.csv")))
    store = Store.open(f"sqlite:///{folder / '.nbcohort' / 'nbcohort.sqlite'}")
    try:
        with store.write() as s:
            cohort = get_cohort(s, "spring-26")
            who = {m.username: m for m in s.query(Member).filter_by(cohort_id=cohort.id)}
            ask = posts.create_post(s, Actor.of(who["ivo"]), cohort, "module-1/a", "Question?")
            s.flush()
            for name in ("ana", "ben", "cy"):
                reply = posts.create_post(s, Actor.of(who[name]), cohort, "module-1/a",
                                          "An answer", parent_id=ask.id)  # fmt: skip
                s.flush()
                posts.react(s, Actor.of(who["ivo"]), reply.id, "helpful")
            who["cy"].active = False
    finally:
        store.close()
    suggested = ok(nbcohort(env, "champions", "suggest", "--count=5"))
    lines = suggested.strip().splitlines()
    assert len(lines) == 2, suggested  # cy left: never suggested
    assert "ana (Ana Souza, Red): 1 helpful replies; first champion for team Red" in suggested
    assert "ben (Ben Okafor, Blue)" in suggested
    bad_count = nbcohort(env, "champions", "suggest", "--count=0")
    assert bad_count.returncode == 2 and "count must be" in bad_count.stderr
    left = nbcohort(env, "champions", "appoint", "cy")
    assert left.returncode == 2 and "'cy' has left the cohort" in left.stderr
    nobody = nbcohort(env, "champions", "appoint", "zed")
    assert nobody.returncode == 2 and "no member 'zed'" in nobody.stderr
    assert "ana is now a champion" in ok(nbcohort(env, "champions", "appoint", "ana"))
    again = nbcohort(env, "champions", "appoint", "ana")
    assert again.returncode == 2 and "already a champion" in again.stderr
    backfill = ok(nbcohort(env, "badges", "backfill"))
    assert "first-post" in backfill and "helpful-reply" in backfill and "1 champion" in backfill
    assert "no new badges" in ok(nbcohort(env, "badges", "backfill"))
    listed = ok(nbcohort(env, "badges", "list"))
    assert "ana: first-post, helpful-reply, champion" in listed and "cy:" not in listed
    no_reason = nbcohort(env, "badges", "revoke", "ana", "first-post")
    assert no_reason.returncode == 2 and "say why" in no_reason.stderr
    unknown = nbcohort(env, "badges", "revoke", "ana", "nope", "--reason=x")
    assert unknown.returncode == 2 and "has no badge 'nope'" in unknown.stderr
    ok(nbcohort(env, "badges", "revoke", "ana", "first-post", "--reason=posted by a script"))
    assert "no new badges" in ok(nbcohort(env, "badges", "backfill"))  # not given back
    assert "ana: helpful-reply, champion" in ok(nbcohort(env, "badges", "list"))


def test_a_badge_rule_with_an_unknown_event_kind_is_refused_at_validate(course, tmp_path):  # noqa: F811
    _, env = course
    bad = tmp_path / "bad.toml"
    bad.write_text(
        EXAMPLE.read_text("utf-8")
        + '\n[badges]\noff = ["no-such-badge"]\n\n[[badges.rules]]\nkey = "regular"\n'
        'title = "Regular"\nevent = "post.created"\ncount = 0\n',
        "utf-8",
    )
    result = nbcohort(env, "cohort", "validate", str(bad))
    assert result.returncode == 2
    text = bad.read_text().splitlines()
    for key, says, word in [
        ("badges.rules#1.event", "unknown event kind 'post.created' (known: post,", "event"),
        ("badges.rules#1.count", "must be at least 1", "count"),
        ("badges.off#1", "no badge rule 'no-such-badge'", "off"),
    ]:
        [line] = [x for x in result.stderr.splitlines() if f": {key}: " in x]
        assert line.startswith(f"{bad}:") and says in line, line
        assert word in text[int(line.split(":")[1]) - 1]
