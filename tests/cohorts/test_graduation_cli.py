"""``nbcohort cohort graduate`` run as an instructor runs it (real processes, a real config):
the dry run, graduating, graduating again, and the refusals (an unknown slug, an open review
round named, a cohort file with no community, a malformed community name with its line)."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from tests.cohorts.test_cli import course, nbcohort  # noqa: F401 - the fixture, as a user sets up
from tests.helpers.processes import REPO

pytestmark = pytest.mark.slow
EXAMPLE = REPO / "course" / "cohorts" / "spring-27.toml"
ROSTER = (
    "name,email,team,role,username\nFay Lind,fay@example.org,,facilitator,fay\n"
    "Chi Nguyen,chi@example.org,Red,champion,chi\nAna Souza,ana@example.org,Red,learner,ana\n"
    "Ben Okafor,ben@example.org,Blue,learner,ben\n"
)


def ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout


def refused(result, *says):
    assert result.returncode == 2, result.stdout
    for text in says:
        assert text in result.stderr, result.stderr
    return result.stderr


def _db(folder):
    return sqlite3.connect(next(folder.rglob("*.sqlite")))


def test_graduate_dry_run_then_for_real_then_again(course):  # noqa: F811
    folder, env = course
    cohort_file = folder / "spring-27.toml"
    shutil.copy(EXAMPLE, cohort_file)
    ok(nbcohort(env, "cohort", "apply", str(cohort_file)))
    (folder / "r.csv").write_text(ROSTER, "utf-8")
    ok(nbcohort(env, "roster", "import", str(folder / "r.csv"), "--cohort=spring-27"))
    refused(nbcohort(env, "cohort", "graduate", "autumn-99"), "no cohort 'autumn-99'")
    refused(nbcohort(env, "cohort", "graduate"), "missing the cohort's slug")
    dry = ok(nbcohort(env, "cohort", "graduate", "spring-27", "--dry-run"))
    assert "would graduate into the community 'pandas-practitioners'" in dry
    assert "2 learners become alumni" in dry and "nothing is deleted" in dry
    with _db(folder) as db:
        assert db.execute("SELECT count(*) FROM member WHERE role='alumni'").fetchone() == (0,)
        db.execute(
            "INSERT INTO review_round (cohort_id, assignment, status, reviewers_per_submission,"
            " seed, opened_at, settings, folder) SELECT id, 'ps-1', 'open', 3, 0,"
            " '2027-01-01 00:00:00', '{}', '' FROM cohort WHERE slug='spring-27'"
        )
    refused(nbcohort(env, "cohort", "graduate", "spring-27"), "open review round ('ps-1')")
    with _db(folder) as db:
        db.execute("UPDATE review_round SET status='closed'")
    done = ok(nbcohort(env, "cohort", "graduate", "spring-27"))
    assert "graduated into the community 'pandas-practitioners'" in done
    with _db(folder) as db:
        roles = dict(db.execute("SELECT username, role FROM member").fetchall())
        assert roles == {"fay": "facilitator", "chi": "champion", "ana": "alumni", "ben": "alumni"}
        verbs = db.execute("SELECT count(*) FROM activity WHERE verb='cohort.graduate'")
        assert verbs.fetchone() == (1,)
    again = ok(nbcohort(env, "cohort", "graduate", "spring-27"))
    assert "nothing to change" in again
    with _db(folder) as db:
        verbs = db.execute("SELECT count(*) FROM activity WHERE verb='cohort.graduate'")
        assert verbs.fetchone() == (1,)
    applied = ok(nbcohort(env, "cohort", "apply", str(cohort_file)))  # keeps the community's
    assert "error" not in applied


def test_a_file_without_a_community_or_with_a_malformed_name(course):  # noqa: F811
    folder, env = course
    text = EXAMPLE.read_text()
    bad = folder / "bad.toml"
    bad.write_text(text.replace('name = "pandas-practitioners"', 'name = "../Pandas"'))
    line = bad.read_text().splitlines().index('name = "../Pandas"') + 1
    refused(
        nbcohort(env, "cohort", "validate", str(bad)),
        f"bad.toml:{line}: community.name: community name '../Pandas' must be lowercase",
    )
    plain = folder / "plain.toml"
    plain.write_text(text.split("\n[community]")[0])
    ok(nbcohort(env, "cohort", "apply", str(plain)))
    refused(nbcohort(env, "cohort", "graduate", "spring-27"), "has no community to graduate into")
