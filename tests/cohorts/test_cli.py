"""The nbcohort command, run as an instructor runs it (a real process, a real config file)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from nbcohort.cohorts.schema import head_revision, upgrade_db
from nbcohort.cohorts.store import make_engine
from tests.helpers.processes import free_port, isolated_env

pytestmark = pytest.mark.slow


@pytest.fixture
def course(tmp_path):
    """A course folder made by `nbcohort init`, with JUPYTER_CONFIG_PATH pointing at it."""
    folder = tmp_path / "pandas-course"
    env = isolated_env(tmp_path)
    result = nbcohort(env, "init", str(folder), "--cohort=spring-26", "--title=Pandas at work")
    assert result.returncode == 0, result.stderr
    env["JUPYTER_CONFIG_PATH"] = str(folder)
    return folder, env


def nbcohort(env, *args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "nbcohort.cohorts.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_init_scaffolds_a_course_that_the_other_commands_use(course):
    folder, env = course
    assert (folder / "jupyter_config.py").is_file()
    assert (folder / "course" / "source" / "welcome" / "welcome.ipynb").is_file()
    assert (folder / ".nbcohort" / "nbcohort.sqlite").is_file()
    listed = nbcohort(env, "cohort", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split("\t")[0] == "spring-26"
    again = nbcohort(env, "init", str(folder))
    assert again.returncode == 2
    assert "already exists" in again.stderr


def test_roster_import_token_and_listing(course):
    folder, env = course
    roster = folder / "roster.csv"
    roster.write_text(
        "name,email,team,role\nAna Souza,ana@example.org,Red,learner\n"
        "نور حداد,nour@example.org,Blue,champion\n",
        "utf-8",
    )
    first = nbcohort(env, "roster", "import", str(roster))
    assert first.returncode == 0, first.stderr
    assert "2 added" in first.stdout
    second = nbcohort(env, "roster", "import", str(roster))
    assert "0 added" in second.stdout and "2 unchanged" in second.stdout
    listed = nbcohort(env, "roster", "list")
    assert "نور حداد,nour@example.org,Blue,champion" in listed.stdout
    token = nbcohort(env, "token", "nour@example.org")
    assert token.returncode == 0 and token.stdout.strip().startswith("nbc_")
    unknown = nbcohort(env, "token", "nobody")
    assert unknown.returncode == 2
    assert "no member 'nobody' in cohort spring-26" in unknown.stderr


def test_bad_roster_reports_lines_and_imports_nothing(course):
    folder, env = course
    bad = folder / "bad.csv"
    bad.write_text(
        "name,email,team,role\nAna,ana@example.org,Red,learner\n"
        "Ben,not-an-email,Red,learner\nChi,chi@example.org,Red,wizard\n",
        "utf-8",
    )
    result = nbcohort(env, "roster", "import", str(bad))
    assert result.returncode == 2
    assert "line 3" in result.stderr and "email" in result.stderr
    assert "line 4" in result.stderr and "role" in result.stderr
    assert "Ana" not in nbcohort(env, "roster", "list").stdout


def test_missing_cohort_and_missing_file_are_clear(course):
    folder, env = course
    result = nbcohort(env, "roster", "import", str(folder / "nope.csv"))
    assert result.returncode == 2 and "no such file" in result.stderr
    result = nbcohort(env, "token", "ana", "--cohort=autumn")
    assert result.returncode == 2 and "no cohort 'autumn' (known: spring-26)" in result.stderr
    result = nbcohort(env, "cohort", "create", "spring-26")
    assert result.returncode == 2 and "already exists" in result.stderr
    result = nbcohort(env, "cohort", "create", "Bad Slug!")
    assert result.returncode == 2 and "slug" in result.stderr


def test_stale_database_is_refused_naming_upgrade_db(course, tmp_path):
    _folder, env = course
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    upgrade_db(engine, "0001")  # a database made by an older nbcohort
    engine.dispose()
    result = nbcohort(env, "cohort", "list", f"--db-url={url}")
    assert result.returncode == 2
    assert "older than this nbcohort" in result.stderr
    assert "nbcohort upgrade-db" in result.stderr
    upgraded = nbcohort(env, "upgrade-db", f"--db-url={url}")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded from 0001 to {head_revision()}" in upgraded.stdout
    assert nbcohort(env, "cohort", "list", f"--db-url={url}").returncode == 0
    with sqlite3.connect(tmp_path / "other.sqlite") as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    other = nbcohort(env, "cohort", "list", f"--db-url=sqlite:///{tmp_path / 'other.sqlite'}")
    assert "not an nbcohort database" in other.stderr


def test_broken_config_file_is_an_error_not_a_warning(course):
    folder, env = course
    with (folder / "jupyter_config.py").open("a") as fh:
        fh.write("\nc.NbCohort.default_cohort = undefined_name\n")
    result = nbcohort(env, "cohort", "list")
    assert result.returncode != 0
    assert "undefined_name" in result.stderr


def test_export_and_import_round_trip(course, tmp_path):
    folder, env = course
    (folder / "r.csv").write_text("name,email,team,role\nAna,ana@example.org,Red,learner\n")
    assert nbcohort(env, "roster", "import", str(folder / "r.csv")).returncode == 0
    archive = tmp_path / "community.zip"
    exported = nbcohort(env, "export", str(archive))
    assert exported.returncode == 0, exported.stderr
    assert nbcohort(env, "export", str(archive)).returncode == 2  # never overwrites
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    imported = nbcohort(env, "import", str(archive), f"--db-url={other}")
    assert imported.returncode == 0, imported.stderr
    assert "Ana,ana@example.org" in nbcohort(env, "roster", "list", f"--db-url={other}").stdout
    again = nbcohort(env, "import", str(archive), f"--db-url={other}")
    assert again.returncode == 2 and "empty" in again.stderr


def test_demo_check_runs_the_demo_end_to_end(tmp_path):
    from tests.helpers.processes import REPO

    env = isolated_env(
        tmp_path,
        JUPYTER_CONFIG_PATH=str(REPO),
        NBCOHORT_DATA_DIR=str(tmp_path / "data"),
        NBCOHORT_PORT=str(free_port()),
    )
    lab_port = f"--lab-port={free_port()}"
    result = nbcohort(env, "demo", "--check", lab_port)
    assert result.returncode == 0, result.stderr
    assert "seeded the demo cohort" in result.stdout
    assert "demo check passed" in result.stdout
    assert "JupyterLab serves the course" in result.stdout
    home = tmp_path / "data" / "demo" / "home"
    learner = next(home.iterdir())
    assert (learner / "module-1" / "01-loading-data.ipynb").is_file()
    released = (learner / "project-1" / "project-1.ipynb").read_text()
    assert "BEGIN SOLUTION" not in released  # the learner gets nbgrader's release
    again = nbcohort(env, "demo", "--check", "--no-lab")  # a second run reuses the cohort
    assert again.returncode == 0, again.stderr
    assert "seeded" not in again.stdout
