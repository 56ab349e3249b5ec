"""The demo's first run as a newcomer meets it: ``nbcohort demo --check`` on a fresh clone (the
repo's jupyter_config.py and course, no data directory, no nbgrader output yet) says what it
does in a few lines and nothing that reads as broken."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default import ExchangeReleaseAssignment
from traitlets.config import Config

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
    assert len(lines) == 4, output  # seeding, seeded, releasing, passed

    # The learner's JupyterLab logs no error either (nbgrader's instructor extensions, which
    # complained there that the course is outside the learner's home, are off for a learner).
    data = clone / ".nbcohort"
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
