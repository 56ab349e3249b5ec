"""The demo's first run as a newcomer meets it: ``nbcohort demo --check`` on a fresh clone (the
repo's jupyter_config.py and course, no data directory, no nbgrader output yet) says what it
does in a few lines and nothing that reads as broken; the demo cohort has its rhythm (cohort
file, charter, cadence, onboarding under way) and an outbox of messages a person can open."""

from __future__ import annotations

import email
import logging
import re
import shutil
import subprocess
import sys
from collections import Counter
from email import policy
from pathlib import Path

import pytest
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default import ExchangeReleaseAssignment
from sqlalchemy import func, select
from traitlets.config import Config

from nbcohort.cohorts.models import (
    CadenceItem,
    CharterAck,
    CharterVersion,
    Cohort,
    Idea,
    Member,
    OnboardingStep,
    OutboxMessage,
    Pilot,
    PilotUpdate,
)
from nbcohort.cohorts.store import Store
from tests.helpers.processes import REPO, free_port, isolated_env

pytestmark = pytest.mark.slow

ALARM = re.compile(r"CRITICAL|ERROR|WARNING|Traceback|Exception")


def fresh_clone(tmp_path: Path) -> Path:
    """What a clone holds that the demo reads: the one config file and the course's sources."""
    clone = tmp_path / "clone"
    (clone / "course").mkdir(parents=True)
    shutil.copy(REPO / "jupyter_config.py", clone)
    shutil.copy(REPO / "course" / "course.toml", clone / "course")
    shutil.copytree(REPO / "course" / "source", clone / "course" / "source")
    shutil.copytree(REPO / "course" / "cohorts", clone / "course" / "cohorts")
    return clone


def test_first_run_prints_a_few_calm_lines(tmp_path, caplog):
    clone = fresh_clone(tmp_path)
    env = isolated_env(tmp_path, JUPYTER_CONFIG_PATH=str(clone), NBCOHORT_PORT=str(free_port()))
    nbcohort = Path(sys.executable).with_name("nbcohort")  # the command dev.py runs
    result = subprocess.run(
        [str(nbcohort), "demo", "--check", f"--lab-port={free_port()}"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert [line for line in output.splitlines() if ALARM.search(line)] == []
    lines = output.strip().splitlines()
    assert lines[0].startswith("seeding the demo cohort")
    assert lines[-1].startswith("demo check passed")
    assert len(lines) == 5, output  # seeding, seeded, the rhythm, releasing, passed
    data = clone / ".nbcohort"
    assert lines[2].startswith(f"the rhythm: {data / 'demo' / 'demo.toml'} applied")
    assert f"emails in the outbox {data / 'outbox'} (open any .eml)" in lines[2]
    check_rhythm(data)

    # The learner's JupyterLab logs no error either (nbgrader's instructor extensions, which
    # complained there that the course is outside the learner's home, are off for a learner).
    lab_log = (data / "demo" / "home" / "jupyterlab.log").read_text()
    assert [
        line for line in lab_log.splitlines() if line.startswith("[E ") or "Traceback" in line
    ] == []

    # The exchange root is there as nbgrader itself makes it: nbgrader has nothing to change.
    config = Config()
    config.Exchange.root = str(data / "exchange")
    config.CourseDirectory.root = str(clone / "course")
    nbgrader_log = logging.getLogger("test_demo.nbgrader")
    with caplog.at_level(logging.DEBUG, logger=nbgrader_log.name):
        ExchangeReleaseAssignment(
            coursedir=CourseDirectory(config=config), config=config, log=nbgrader_log
        ).ensure_root()
    assert caplog.records == []
    assert (data / "exchange").is_dir()


def check_rhythm(data: Path) -> None:
    """What the demo's rhythm left in its store and outbox (``demo_rhythm.py``)."""
    store = Store.open("sqlite:///" + str(data / "nbcohort.sqlite"))
    try:
        with store.read() as s:
            cohort = s.scalars(select(Cohort).where(Cohort.slug == "demo")).one()
            states = Counter(s.scalars(select(CadenceItem.state)))
            kinds = Counter(s.scalars(select(CadenceItem.kind).where(
                CadenceItem.state == "published")))  # fmt: skip
            acks = s.scalar(select(func.count()).select_from(CharterAck))
            charters = s.scalar(select(func.count()).select_from(CharterVersion))
            newcomers = s.execute(select(Member.id, Member.joined_at).where(
                Member.email.like("%tanaka%") | Member.email.like("%costa%")
                | Member.email.like("%martin%"))).all()  # fmt: skip
            steps = Counter(s.scalars(select(OnboardingStep.state).where(
                OnboardingStep.member_id.in_([m for m, _ in newcomers]))))  # fmt: skip
            rows = Counter(s.execute(select(OutboxMessage.kind, OutboxMessage.state)).all())
            ideas = Counter(s.scalars(select(Idea.state)))
            pilots = s.scalars(select(Pilot.status)).all()
            updates = s.scalar(select(func.count()).select_from(PilotUpdate))
    finally:
        store.close()
    assert cohort.settings.get("rhythm") and (data / "demo" / "demo.toml").is_file()
    assert charters == 1 and 10 <= acks < 30  # some members acknowledged it, not all
    assert kinds["prompt"] >= 9 and kinds["routine"] >= 3 and kinds["highlights"] >= 1
    assert states["planned"] >= 20 and states["missed"] == 0  # the month ahead, none missed
    assert len(newcomers) == 3 and steps["sent"] >= 3 and steps["stopped"] == 0  # under way
    # Ideas: one escalated to the facilitators, one a pilot with an update, one still open.
    assert ideas == {"escalated": 1, "piloted": 1, "open": 1} and pilots == ["active"]
    assert updates == 1
    assert rows and {state for _kind, state in rows} == {"sent"}
    assert {kind for kind, _state in rows} >= {"onboarding", "routine"}
    files = sorted((data / "outbox").glob("*.eml"))
    assert len(files) == sum(rows.values())
    for path in files[:20]:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert message["To"].addresses and message["Subject"] and message["Message-ID"]
        assert "unsubscribe" in message.get_body(("plain",)).get_content()


def test_demo_addresses_keep_the_letters_under_accents() -> None:
    from nbcohort.cohorts.demo_seed import demo_roster_csv

    rows = dict(line.split(",")[:2] for line in demo_roster_csv().splitlines()[1:])
    assert rows["Hana Novák"] == "hana.novak@example.org"
    assert rows["Zoe Müller"] == "zoe.muller@example.org"
    assert all(address.isascii() for address in rows.values())
