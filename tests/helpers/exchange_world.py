"""Two nbgrader courses, their instructors and learners, and one exchange between them:
nbgrader's default filesystem exchange, or the nbcohort service exchange against a real
``nbcohort serve``. Every step goes through nbgrader's ``ExchangeFactory`` in-process, as
nbgrader's apps do, so the only difference between the two is the factory's config."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from nbgrader.api import Gradebook
from nbgrader.auth import Authenticator
from nbgrader.auth.base import BaseAuthPlugin
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeFactory
from traitlets.config import Config

from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.services.auth import Actor, mint_token
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.store import Store
from nbcohort.exchange.nbgrader_io import put_alembic_on_path
from nbcohort.exchange.service_exchange import FACTORY
from tests.helpers.exchange_service import SharedService, new_slug

SYSTEM = Actor.system()
# course -> (instructor, learners): ana takes both courses; zed takes only the second. Each
# world names its two courses anew (``ExchangeWorld.c1``, ``c2``): one service, many tests.
ROSTER: dict[str, tuple[str, tuple[str, ...]]] = {}


_TEMPLATE: list[Path] = []


def _gradebook_template() -> Path:
    """An empty nbgrader gradebook, made once per process: nbgrader creates one with
    alembic in seconds; a copy costs nothing, and nbgrader adds the course row itself."""
    if not _TEMPLATE:
        put_alembic_on_path()
        folder = Path(tempfile.mkdtemp(prefix="nbcohort-gradebook-"))
        with Gradebook(f"sqlite:///{folder / 'gradebook.db'}", "template"):
            pass
        _TEMPLATE.append(folder / "gradebook.db")
    return _TEMPLATE[0]


class RosterAuth(BaseAuthPlugin):
    """The default exchange's access check (nbgrader's auth plugin): the same roster."""

    def get_student_courses(self, student_id: str) -> list[str] | None:
        if student_id == "*":  # an instructor's view: every course
            return None
        return [c for c, (_s, learners) in ROSTER.items() if student_id in learners]

    def has_access(self, student_id: str, course_id: str) -> bool:
        return student_id in ROSTER.get(course_id, ("", ()))[1]


class ExchangeWorld:
    """The courses' folders, the learners' homes and the exchange in between."""

    def __init__(self, tmp: Path, service: SharedService | None) -> None:
        self.tmp, self.kind = tmp, "service" if service is not None else "filesystem"
        self.c1, self.c2 = new_slug("course"), new_slug("course")
        self.roster = {self.c1: ("ivo", ("ana", "ben")), self.c2: ("ina", ("ana", "zed"))}
        ROSTER.update(self.roster)
        self.tokens: dict[tuple[str, str], str] = {}
        self.service = service.service if service is not None else None
        (tmp / "exchange").mkdir(parents=True)
        if service is not None:
            self._roster(service.store)
        for course in self.roster:
            self._course(course)

    def staff(self, course: str) -> str:
        return self.roster.get(course, ("", ()))[0]

    def _course(self, course: str) -> None:
        """The course's ps1 as ``generate_assignment`` leaves it (a notebook with no grade
        cells comes out the same; generating costs seconds of gradebook set-up)."""
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"{course} ps1")])
        for folder in ("source", "release"):
            (self.tmp / course / folder / "ps1").mkdir(parents=True)
            nbformat.write(nb, self.tmp / course / folder / "ps1" / "p1.ipynb")
        shutil.copy(_gradebook_template(), self.tmp / course / "gradebook.db")

    def _roster(self, store: Store) -> None:
        with store.write() as s:
            for course, (staff, learners) in self.roster.items():
                cohort = create_cohort(s, SYSTEM, course, f"Course {course}")
                for username, role in [(staff, "instructor"), *[(u, "learner") for u in learners]]:
                    member = add_member(
                        s, SYSTEM, s.get_one(Cohort, cohort.id), name=username.title(),
                        email=f"{username}@example.org", role=role, username=username,
                    )  # fmt: skip
                    self.tokens[(username, course)] = mint_token(s, SYSTEM, member, "test")

    # -- people and steps -------------------------------------------------------------------
    def home(self, user: str) -> Path:
        path = self.tmp / "home" / user
        path.mkdir(parents=True, exist_ok=True)
        return path

    def course_root(self, course: str) -> Path:
        return self.tmp / course

    def config(self, user: str, course: str) -> Config:
        cfg = Config()
        cfg.CourseDirectory.root = str(self.course_root(course))
        cfg.CourseDirectory.course_id = course
        cfg.Exchange.root = str(self.tmp / "exchange")
        cfg.Exchange.assignment_dir = str(self.home(user))
        cfg.Exchange.cache = str(self.home(user) / ".nbgrader_cache")
        cfg.Authenticator.plugin_class = RosterAuth
        if self.kind == "service":
            assert self.service is not None
            for name, cls in FACTORY.items():
                setattr(cfg.ExchangeFactory, name, cls)
            cfg.ServiceExchange.url = self.service.url
            # Someone the service does not know in this course holds another course's token.
            other = next(t for (u, _c), t in self.tokens.items() if u == user)
            cfg.ServiceExchange.token = self.tokens.get((user, course), other)
        return cfg

    def step(
        self, step: str, user: str, course: str, assignment: str = "ps1", **traits: Any
    ) -> Any:
        """One exchange step as ``user`` (an instructor acts on the whole course)."""
        cfg = self.config(user, course)
        coursedir = CourseDirectory(config=cfg)
        coursedir.assignment_id = assignment
        if user != self.staff(course):
            coursedir.student_id = user
        factory = ExchangeFactory(config=cfg)
        exchange = getattr(factory, step)(
            coursedir=coursedir, authenticator=Authenticator(config=cfg), config=cfg
        )
        for name, value in traits.items():
            setattr(exchange, name, value)
        return exchange.start()

    def set_due(self, course: str, when: Any) -> None:
        cfg = self.config(self.staff(course), course)
        with Gradebook(CourseDirectory(config=cfg).db_url, course) as gb:
            gb.update_or_create_assignment("ps1", duedate=when)

    def answer(self, user: str, text: str, assignment: str = "ps1") -> None:
        path = self.home(user) / assignment / "p1.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_markdown_cell(text))
        nbformat.write(nb, path)

    def submitted(self, course: str, student: str) -> Path:
        return self.course_root(course) / "submitted" / student / "ps1"

    def write_feedback(self, course: str, student: str) -> None:
        """What ``generate_feedback`` leaves: an HTML page beside the submission's stamps."""
        src = self.submitted(course, student)
        dest = self.course_root(course) / "feedback" / student / "ps1"
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "p1.html").write_text(f"<p>feedback for {student}</p>")
        for name in ("timestamp.txt", "submission_secret.txt"):
            if (src / name).exists():
                shutil.copy(src / name, dest / name)
