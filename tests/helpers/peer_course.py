"""A real nbgrader course for peer-review tests: the example course's project-1 released
through a real exchange, and learners who fetch, answer, submit and fetch feedback, all
in-process through nbgrader's exchange classes."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import nbformat
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeFactory
from traitlets.config import Config

from nbcohort.cohorts.models import Member, utcnow
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.store import Store
from nbcohort.exchange.nbgrader_io import nbgrader_api
from nbcohort.exchange.round_context import RoundContext

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT = "project-1"
COURSE_ID = "pandas-practice"
ANSWER_CELLS = ("b1-question", "b3-findings", "b4-recommendation")


class PeerCourse:
    """The instructor's course folder, the exchange, learners' homes and a cohort store."""

    def __init__(
        self,
        tmp: Path,
        store: Store,
        *,
        cohort: str = "spring-26",
        exchange: Config | Callable[[PeerCourse], Config] | None = None,
    ) -> None:
        """``exchange``: config that replaces nbgrader's default exchange (the instructor's
        release already goes through it), or a function of the course (its cohort made)
        that returns it. ``learner_configs``: config a learner's own steps add (a token)."""
        self.tmp = tmp
        self.store = store
        self.cohort = cohort
        with store.write() as s:
            self.cohort_id = create_cohort(s, Actor.system(), cohort, "Spring 2026").id
        self.members: dict[str, Member] = {}
        self.learner_configs: dict[str, Config] = {}
        self.root = tmp / "course"
        shutil.copytree(REPO / "course" / "source", self.root / "source")
        shutil.copy(REPO / "course" / "course.toml", self.root / "course.toml")
        (tmp / "exchange").mkdir()
        self.config = Config()
        self.config.CourseDirectory.root = str(self.root)
        self.config.CourseDirectory.course_id = COURSE_ID
        self.config.Exchange.root = str(tmp / "exchange")
        if exchange is not None:
            self.config.merge(exchange(self) if callable(exchange) else exchange)
        self.api = nbgrader_api(self.config)
        for step in ("generate_assignment", "release_assignment"):
            result = getattr(self.api, step)(ASSIGNMENT)
            assert result["success"], result.get("error") or result.get("log")

    def context(self) -> RoundContext:
        ctx = RoundContext(self.store, self.config, self.cohort, self.tmp / "data", self.root)
        ctx.__dict__["api"] = self.api  # share one NbGraderAPI (and its gradebook) with tests
        return ctx

    def add_learners(self, names: list[str], *, teams: int = 3, role: str = "learner") -> None:
        with self.store.write() as s:
            from nbcohort.cohorts.models import Cohort

            cohort = s.get_one(Cohort, self.cohort_id)
            for i, name in enumerate(names):
                username = name.split()[0].lower()
                self.members[username] = add_member(
                    s,
                    Actor.system(),
                    cohort,
                    name=name,
                    email=f"{username}@example.org",
                    role=role,
                    team=f"team-{i % teams}" if teams else "",
                    username=username,
                )

    def _exchange(self, step: str, username: str) -> Any:
        """nbgrader's ``step`` for ``username``, from the exchange the course is configured
        with (nbgrader's ``ExchangeFactory``), run in the learner's home."""
        cfg = copy.deepcopy(self.config)  # Config(...) would share (and merge into) sections
        cfg.merge(self.learner_configs.get(username, Config()))
        cfg.Exchange.assignment_dir = str(self.home(username))
        coursedir = CourseDirectory(config=cfg, root=str(self.home(username)))
        coursedir.assignment_id = ASSIGNMENT
        coursedir.student_id = username
        cls = getattr(ExchangeFactory(config=cfg), step)
        return cls(coursedir=coursedir, authenticator=Authenticator(config=cfg), config=cfg)

    def home(self, username: str) -> Path:
        path = self.tmp / "home" / username
        path.mkdir(parents=True, exist_ok=True)
        return path

    def fetch(self, username: str) -> Path:
        self._exchange("fetch_assignment", username).start()
        return self.home(username) / ASSIGNMENT

    def answer(self, username: str, name: str, quality: int) -> Path:
        """Write Part B answers of roughly ``quality`` (0-3), leaving identity traces a
        reviewer must not see: the home path in an output, the name in a markdown cell."""
        path = self.home(username) / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in ANSWER_CELLS:
                cell.source = f"{grade_id}: an answer of quality {quality}. " + "detail " * quality
            if cell.cell_type == "code" and "data = pd.read_csv" in cell.source:
                cell.outputs = [
                    nbformat.v4.new_output(
                        "stream", name="stdout", text=f"loaded /home/{username}/project-1/data\n"
                    )
                ]
        nb.cells.append(nbformat.v4.new_markdown_cell(f"Written by {name}."))
        nbformat.write(nb, path)
        return path

    def submit(self, username: str) -> None:
        self._exchange("submit", username).start()

    def fetch_feedback(self, username: str) -> list[Path]:
        self._exchange("fetch_feedback", username).start()
        return sorted((self.home(username) / ASSIGNMENT / "feedback").rglob("*.html"))

    def break_submission(self, username: str, content: bytes) -> None:
        """Replace a learner's notebook in the exchange inbound folder (after submit)."""
        inbound = self.tmp / "exchange" / COURSE_ID / "inbound"
        folder = max(inbound.glob(f"{username}+{ASSIGNMENT}+*"))
        (folder / f"{ASSIGNMENT}.ipynb").write_bytes(content)


def due_in(days: float) -> object:
    return utcnow() + timedelta(days=days)


def notebook_json(path: Path) -> dict[str, object]:
    return json.loads(path.read_text("utf-8"))
