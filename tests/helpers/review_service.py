"""A real review round served for API, widget and browser tests: four learners submit
project-1 through nbgrader, the instructor opens a round with a calibration item; one copy of
that store stays open, another is reviewed and closed. Built once per test session."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.models import (
    Allocation,
    Cohort,
    Member,
    Review,
    ReviewRound,
    ReviewSubmission,
    utcnow,
)
from nbcohort.cohorts.services import reviews
from nbcohort.cohorts.services.auth import Actor, mint_token
from nbcohort.cohorts.store import Store
from nbcohort.exchange import round_close as round_closing
from nbcohort.exchange import round_open as rounds
from tests.helpers.peer_course import ASSIGNMENT, PeerCourse, due_in
from tests.helpers.processes import ServiceProcess

NAMES = ["Ana Souza", "Ben Okafor", "Chi Nguyen", "Dara Kim"]
CRITERIA = ("question", "evidence", "recommendation")
KNOWN = {"question": 2.0, "evidence": 1.0, "recommendation": 3.0}  # the calibration item


@dataclass
class RoundDbs:
    """Two SQLite files of the same course: the round open, and the round reviewed and
    closed (Dara left one review undone). Tests copy a file; the round folder is shared."""

    open: Path
    closed: Path
    tokens: dict[str, str]
    members: dict[str, int]


_BUILT: dict[str, RoundDbs] = {}


def _copy_db(src: Path, dst: Path) -> None:
    with closing(sqlite3.connect(src)) as a, closing(sqlite3.connect(dst)) as b:
        a.backup(b)


def _add_calibration(course: PeerCourse) -> None:
    """One calibration item the instructor scored (the source notebook, as a sample)."""
    sample = course.root / "calibration" / "sample-1.ipynb"
    sample.parent.mkdir()
    shutil.copy(course.root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", sample)
    toml = course.root / "course.toml"
    text = toml.read_text("utf-8").replace("calibration_samples = 0", "calibration_samples = 1")
    scores = ", ".join(f"{k} = {v:g}" for k, v in KNOWN.items())
    text += (
        f'\n[[assignments.{ASSIGNMENT}.calibration]]\nnotebook = "calibration/sample-1.ipynb"\n'
        f"scores = {{ {scores} }}\n"
    )
    toml.write_text(text, "utf-8")


def _review_all(store: Store, cohort_id: int, members: dict[str, int]) -> None:
    with store.write() as s:
        cohort = s.get_one(Cohort, cohort_id)
        for username, member_id in members.items():
            actor = Actor.of(s.get_one(Member, member_id))
            items = reviews.review_inbox(s, actor, cohort, ASSIGNMENT)["inbox"]
            if username == "dara":
                items = items[:-1]  # Dara leaves her last peer review undone
            for n, item in enumerate(items):
                scores = {c: float(1 + (n + i) % 3) for i, c in enumerate(CRITERIA)}
                comments = {c: f"{username} on **{c}**: see cell 3." for c in CRITERIA}
                reviews.save_review(
                    s, actor, cohort, item["allocation_id"], scores=scores, comments=comments,
                    overall_comment="Good work.", submit=True,
                )  # fmt: skip


def build_rounds(base: Path) -> RoundDbs:
    """Build both stores once per test session (nbgrader costs tens of seconds)."""
    if str(base) in _BUILT:
        return _BUILT[str(base)]
    work = base / "review-round"
    work.mkdir()
    open_db, closed_db = work / "open.sqlite", work / "closed.sqlite"
    store = Store.open(f"sqlite:///{open_db}", upgrade=True)
    course = PeerCourse(work, store)
    _add_calibration(course)
    course.add_learners(NAMES, teams=2)
    for name in NAMES:
        username = name.split()[0].lower()
        course.fetch(username)
        course.answer(username, name, 2)
        course.submit(username)
    ctx = course.context()
    rounds.open_round(ctx, ASSIGNMENT, due=due_in(7), reviewers=2, seed=3)  # type: ignore[arg-type]
    members = {u: m.id for u, m in course.members.items()}
    with store.write() as s:
        tokens = {
            u: mint_token(s, Actor.system(), s.get_one(Member, mid), "test")
            for u, mid in members.items()
        }
    store.close()
    _copy_db(open_db, closed_db)
    closed_store = Store.open(f"sqlite:///{closed_db}")
    ctx.store = closed_store
    _review_all(closed_store, course.cohort_id, members)
    round_closing.close(ctx, ASSIGNMENT, force=True, complete_short=True)
    closed_store.close()
    _BUILT[str(base)] = RoundDbs(open_db, closed_db, tokens, members)
    return _BUILT[str(base)]


@pytest.fixture(scope="session")
def round_dbs(tmp_path_factory: pytest.TempPathFactory) -> RoundDbs:
    return build_rounds(tmp_path_factory.getbasetemp())


@dataclass
class Live:
    """A copy of a round's store, the service over it, and a client per learner."""

    store: Store
    service: ServiceProcess
    dbs: RoundDbs
    clients: dict[str, CohortClient] = field(default_factory=dict)

    def allocations(self, username: str, kind: str | None = None) -> list[Allocation]:
        with self.store.read() as s:
            q = select(Allocation).where(Allocation.reviewer_id == self.dbs.members[username])
            if kind:
                q = q.where(Allocation.kind == kind)
            return list(s.scalars(q.order_by(Allocation.id)))

    def review_of(self, reviewer: str, author: str) -> Review | None:
        """The review ``reviewer`` wrote of ``author``'s work (None if not allocated)."""
        with self.store.read() as s:
            return s.scalar(
                select(Review)
                .join(Allocation, Review.allocation_id == Allocation.id)
                .join(ReviewSubmission, ReviewSubmission.id == Allocation.submission_id)
                .where(
                    Allocation.reviewer_id == self.dbs.members[reviewer],
                    ReviewSubmission.author_id == self.dbs.members[author],
                )
            )

    def allocation_of(self, reviewer: str, author: str) -> Allocation | None:
        with self.store.read() as s:
            return s.scalar(
                select(Allocation)
                .join(ReviewSubmission, ReviewSubmission.id == Allocation.submission_id)
                .where(
                    Allocation.reviewer_id == self.dbs.members[reviewer],
                    ReviewSubmission.author_id == self.dbs.members[author],
                )
            )

    def move_due(self, days: float) -> None:
        with self.store.write() as s:
            s.scalars(select(ReviewRound)).one().due_at = utcnow() + timedelta(days=days)


@contextmanager
def serving(tmp_path: Path, dbs: RoundDbs) -> Iterator[Callable[[str], Live]]:
    """``start("open")`` or ``start("closed")``: a private copy of that store, served."""
    made: list[Live] = []

    def start(state: str = "open") -> Live:
        db = tmp_path / f"{state}-{len(made)}.sqlite"
        _copy_db(getattr(dbs, state), db)
        url = f"sqlite:///{db}"
        run = Live(Store.open(url), ServiceProcess(tmp_path, url).start(), dbs)
        run.clients = {u: CohortClient(run.service.url, t, timeout=10)
                       for u, t in dbs.tokens.items()}  # fmt: skip
        made.append(run)
        return run

    try:
        yield start
    finally:
        for run in made:
            for client in run.clients.values():
                client.close()
            run.service.stop()
            run.store.close()


@pytest.fixture
def live(tmp_path: Path, round_dbs: RoundDbs) -> Iterator[Callable[[str], Live]]:
    with serving(tmp_path, round_dbs) as start:
        yield start
