"""``nbcohort init DIR``: a new course folder with its one config file, and its cohort."""

from __future__ import annotations

import re
from contextlib import closing
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from string import Template

import nbformat
from jinja2 import Environment, StrictUndefined
from traitlets import Unicode

from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand, common_aliases
from nbcohort.cohorts.cli.cohort_file import read_cohort_file
from nbcohort.cohorts.cli.course import read_course
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_apply import apply_cohort_file
from nbcohort.cohorts.store import Store

__all__ = ["InitCommand"]

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
GITIGNORE = """\
.nbcohort/
course/release/
course/submitted/
course/autograded/
course/feedback/
course/gradebook.db
.ipynb_checkpoints/
"""
ROSTER = "name,email,team,role,timezone\nAda Example,ada@example.org,Blue,instructor,UTC\n"


def _template(name: str, **values: str) -> str:
    text = resources.files("nbcohort.cohorts.cli").joinpath("templates", name).read_text("utf-8")
    return Template(text).substitute(values)


def _cohort_file(**values: str) -> str:
    """The cohort file ``nbcohort init`` writes (a Jinja2 template of the kit)."""
    text = resources.files("nbcohort.cohorts.cli").joinpath("templates", "cohort.toml.j2")
    env = Environment(undefined=StrictUndefined, keep_trailing_newline=True)
    return env.from_string(text.read_text("utf-8")).render(values)


def _welcome_notebook(title: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            f"# Welcome to {title}\n\nIntroduce yourself to the "
            "cohort: who you are and what you want to apply."
        ),
        nbformat.v4.new_code_cell("import pandas as pd\npd.__version__"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


class InitCommand(NbCohortCommand):
    name = "init"
    description = (
        "Scaffold a new course folder (jupyter_config.py, course/ for nbgrader, an example "
        "roster) and create its cohort: nbcohort init DIR --cohort spring-26 --title '...'"
    )
    title = Unicode("", help="Title of the course and its first cohort.").tag(config=True)
    course_id = Unicode("", help="nbgrader course id (defaults to the folder name).").tag(
        config=True
    )
    aliases = {**common_aliases, "title": "InitCommand.title", "course-id": "InitCommand.course_id"}

    def run(self) -> None:
        target = Path(self.arg(0, "the folder to create")).resolve()
        for existing in ("jupyter_config.py", "course"):
            if (target / existing).exists():
                raise CommandError(f"{target / existing} already exists: not overwriting it")
        course_id = self.course_id or re.sub(r"[^a-z0-9-]+", "-", target.name.lower()).strip("-")
        cohort = self.settings().default_cohort or "cohort-1"
        for value, what in ((course_id, "course id"), (cohort, "cohort slug")):
            if not _ID.match(value):
                raise CommandError(f"{what} {value!r}: use lowercase letters, digits and '-'")
        title = self.title or target.name
        source = target / "course" / "source" / "welcome"
        source.mkdir(parents=True)
        (target / "jupyter_config.py").write_text(
            _template("jupyter_config.py.tmpl", cohort=cohort, course_id=course_id), "utf-8"
        )
        (target / "course" / "course.toml").write_text(
            _template("course.toml.tmpl", course_id=course_id, title=title.replace('"', "'")),
            "utf-8",
        )
        nbformat.write(_welcome_notebook(title), source / "welcome.ipynb")
        (target / ".gitignore").write_text(GITIGNORE, "utf-8")
        (target / "roster.csv").write_text(ROSTER, "utf-8")
        starts = date.today() + timedelta(days=7 - date.today().weekday())  # next Monday
        cohort_file = target / f"{cohort}.toml"
        cohort_file.write_text(
            _cohort_file(
                slug=cohort,
                title=title.replace('"', "'"),
                course_id=course_id,
                starts_on=str(starts),
                ends_on=str(starts + timedelta(days=18)),
                timezone="UTC",
                folder=str(target),
            ),
            "utf-8",
        )
        spec, sha = read_cohort_file(cohort_file)
        db_url = self.settings().db_url or f"sqlite:///{target / '.nbcohort' / 'nbcohort.sqlite'}"
        course = read_course(target / "course")
        with closing(Store.open(db_url, upgrade=True)) as store, store.write() as s:
            apply_cohort_file(s, Actor.system(), spec, sha, source=str(cohort_file), course=course)
        print(
            f"created {target} with cohort {cohort!r} (course {course_id!r}), defined in "
            f"{cohort_file.name}. Next:\n"
            f"  cd {target} && export JUPYTER_CONFIG_PATH=$PWD\n"
            f"  nbcohort roster import roster.csv\n  nbcohort charter new && nbcohort charter "
            f"publish charter.md\n  nbcohort serve   (and nbcohort cadence tick from cron, "
            f"every minute)"
        )
