"""What every step of a review round works with: ``RoundContext`` (the store, nbgrader's
config, the cohort, the data folder, who acts), ``RoundError`` (the step cannot go ahead, and
why), ``round_lock`` (one open or update at a time per assignment) and the members a step
names. The steps themselves are ``round_open``, ``round_update`` and ``round_close``."""

from __future__ import annotations

import fcntl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from nbgrader.apps import NbGraderAPI
from sqlalchemy import select
from traitlets.config import Config

from nbcohort.cohorts.models import Member
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_registry import get_cohort
from nbcohort.cohorts.services.errors import Conflict
from nbcohort.cohorts.store import Store
from nbcohort.exchange.nbgrader_io import nbgrader_api
from nbcohort.exchange.rubric import ReviewSpec, load_review_spec

__all__ = ["RoundContext", "RoundError", "members_by_username", "round_lock"]


class RoundError(RuntimeError):
    """The round cannot go ahead; nothing was published. The message says why."""


@dataclass
class RoundContext:
    """Where a round runs: the store, nbgrader's config, the cohort, the data folder."""

    store: Store
    config: Config
    cohort: str
    data_dir: Path
    course_root: Path
    actor: Actor = field(default_factory=Actor.system)

    @cached_property
    def api(self) -> NbGraderAPI:
        return nbgrader_api(self.config)

    def spec(self, assignment: str) -> ReviewSpec:
        return load_review_spec(self.course_root / "course.toml", assignment)

    def release_folder(self, assignment: str) -> Path:
        coursedir = self.api.coursedir
        return Path(coursedir.format_path(coursedir.release_directory, ".", assignment))


@contextmanager
def round_lock(ctx: RoundContext, assignment: str) -> Iterator[None]:
    """One open or update at a time per assignment on this data folder: nbgrader's collect
    is not safe to run twice at once, and the second instructor should hear why, not see a
    traceback."""
    lock_dir = ctx.data_dir / "reviews" / ctx.cohort
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f".{assignment}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(
                f"another instructor is opening or updating the review round for {assignment!r} "
                "right now"
            ) from None
        yield


def members_by_username(ctx: RoundContext, usernames: Iterable[str]) -> dict[str, Member]:
    """The cohort's members among ``usernames``, detached from the session (read only)."""
    with ctx.store.read() as s:
        cohort = get_cohort(s, ctx.cohort)
        rows = s.scalars(
            select(Member).where(
                Member.cohort_id == cohort.id, Member.username.in_(list(usernames))
            )
        )
        found = {m.username: m for m in rows}
        for m in found.values():
            s.expunge(m)
        return found
