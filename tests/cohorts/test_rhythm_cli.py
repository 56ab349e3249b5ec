"""The rhythm's commands, run as an instructor runs them (real processes, a real config):
cohort validate/apply, cadence tick/plan, charter new/publish/status, events export/url/list."""

from __future__ import annotations

import shutil

import icalendar
import pytest

from nbcohort.cohorts.signing import load_key, verify
from tests.cohorts.test_cli import course, nbcohort  # noqa: F401 - the fixture, as a user sets up
from tests.helpers.processes import REPO

pytestmark = pytest.mark.slow
EXAMPLE = REPO / "course" / "cohorts" / "spring-27.toml"


def ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_init_writes_a_cohort_file_beside_the_roster_and_applies_it(course):  # noqa: F811
    folder, env = course
    cohort_file = folder / "spring-26.toml"
    assert cohort_file.is_file() and (folder / "roster.csv").is_file()
    assert "ok" in ok(nbcohort(env, "cohort", "validate", str(cohort_file)))
    applied = ok(nbcohort(env, "cohort", "apply", str(cohort_file)))
    assert "updated (nothing changed)" in applied and "0 planned" in applied
    plan = ok(nbcohort(env, "cadence", "plan", "--days=14"))
    assert "Top Tip Tuesday" in plan and "Micro-prompt community-01" in plan


def test_validate_lists_every_problem_with_file_key_and_line(course, tmp_path):  # noqa: F811
    _, env = course
    bad = tmp_path / "bad.toml"
    bad.write_text(
        EXAMPLE.read_text("utf-8")
        .replace('timezone = "Europe/Berlin"', 'timezone = "Europe/Atlantis"\nmascot = "owl"')
        .replace('day = "friday"\ntime = "12:00"', 'day = "caturday"\ntime = "12:00"')
        .replace("day = 14", "day = 15")
        .replace('time = "16:00"\nanchor', 'time = "10:00"\nanchor')
        .replace('day = "friday"\ntime = "10:00"', 'day = "tuesday"\ntime = "10:00"')
        .replace("{{ week }}", "{{ wek }}"),
        "utf-8",
    )
    result = nbcohort(env, "cohort", "validate", str(bad))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    for key, says in [
        ("cohort.timezone", "unknown time zone 'Europe/Atlantis'"),
        ("cohort.mascot", "unknown key"),
        ("cadence.routines#2.day", "'caturday' is not a day of the week"),
        ("onboarding.steps#6.day", "must be at most 14"),
        ("cadence.routines#1.prompt", "'wek' is undefined"),
    ]:
        [line] = [x for x in lines if f": {key}: " in x]
        assert line.startswith(f"{bad}:") and says in line, line
        number = int(line.split(":")[1])
        assert key.split(".")[-1].split("#")[0] in bad.read_text().splitlines()[number - 1]
    assert "problems in" in lines[-1]
    applied = nbcohort(env, "cohort", "apply", str(bad))
    assert applied.returncode == 2 and "nothing" not in applied.stdout  # nothing was applied


def test_apply_tick_plan_charter_and_calendar(course, tmp_path):  # noqa: F811
    folder, env = course
    cohort_file = folder / "spring-27.toml"
    shutil.copy(EXAMPLE, cohort_file)
    (folder / "r.csv").write_text(
        "name,email,team,role,username\nFay Lind,fay@example.org,,facilitator,fay\n"
        "Chi Nguyen,chi@example.org,Red,champion,chi\nAna Souza,ana@example.org,Red,learner,ana\n",
        "utf-8",
    )
    first = ok(nbcohort(env, "cohort", "apply", str(cohort_file)))
    assert "cohort 'spring-27' created" in first and "planned" in first
    assert "names course 'pandas-practice'" in first  # this folder's course is another
    again = ok(nbcohort(env, "cohort", "apply", str(cohort_file)))
    assert "nothing changed" in again and "0 planned, 0 changed, 0 removed" in again
    spring = ["--cohort=spring-27"]
    ok(nbcohort(env, "roster", "import", str(folder / "r.csv"), *spring))
    plan = ok(nbcohort(env, "cadence", "plan", "--days=7", "--now=2027-03-01T00:00+01:00",
                       "--tz=America/New_York", *spring))  # fmt: skip
    assert "Tue 2027-03-02 04:00 EST   routine    planned   Top Tip Tuesday" in plan
    tick = ok(nbcohort(env, "cadence", "tick", "--now=2027-03-02T10:30+01:00", *spring))
    assert "published" in tick and "onboarding: 2 sent" in tick
    assert ok(nbcohort(env, "cadence", "tick", "--now=2027-03-02T10:31+01:00", *spring)) == ""
    quiet = ok(nbcohort(env, "cadence", "tick", "--now=2027-03-02T10:32+01:00", "--verbose",
                        *spring))  # fmt: skip
    assert "publish: nothing due" in quiet
    bad_now = nbcohort(env, "cadence", "tick", "--now=2027-03-02T10:32", *spring)
    assert bad_now.returncode == 2 and "needs a time zone" in bad_now.stderr
    no_rhythm = nbcohort(env, "cadence", "tick")  # spring-26 was made by init... and applied
    assert no_rhythm.returncode == 0, no_rhythm.stderr

    charter = folder / "charter.md"
    wrote = ok(nbcohort(env, "charter", "new", str(charter), *spring))
    assert "wrote" in wrote and "Top Tip Tuesday" in charter.read_text("utf-8")
    assert nbcohort(env, "charter", "new", str(charter), *spring).returncode == 2  # no overwrite
    assert "version 1" in ok(nbcohort(env, "charter", "publish", str(charter), *spring))
    same = nbcohort(env, "charter", "publish", str(charter), *spring)
    assert same.returncode == 2 and "nothing changed since version 1" in same.stderr
    charter.write_text(charter.read_text("utf-8") + "\nOne more norm.\n", "utf-8")
    no_note = nbcohort(env, "charter", "publish", str(charter), *spring)
    assert no_note.returncode == 2 and "--note" in no_note.stderr
    ok(nbcohort(env, "charter", "publish", str(charter), "--note=A norm added", *spring))
    assert "version 2" in ok(nbcohort(env, "charter", "status", *spring))

    ics = tmp_path / "spring.ics"
    assert "events" in ok(nbcohort(env, "events", "export", f"--ics={ics}", *spring))
    cal = icalendar.Calendar.from_ical(ics.read_bytes())
    wanted = {"Top Tip Tuesday", "Friday Wins", "Live clinic: bring your data problem"}
    assert {str(e["SUMMARY"]) for e in cal.walk("VEVENT")} >= wanted
    url = ok(nbcohort(env, "events", "url", "ana", *spring)).strip()
    member_id, token = url.rsplit("/", 2)[-2:]
    key = load_key(folder / ".nbcohort" / "signing.key")
    assert verify(key, token.removesuffix(".ics"), "calendar", int(member_id))
    listed = ok(nbcohort(env, "events", "list", "--days=400", *spring))
    assert "(weekly)" in listed and "signed up" in listed
