"""A cohort whose life is written through the real services layer on a moving clock, for
tests that compute a metric by hand: every action happens at the time the test names."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from nbcohort.cohorts.metrics import Metric, compute_metrics, load_frames
from nbcohort.cohorts.models import Member, clock_at
from nbcohort.cohorts.services import artifacts, posts, practices, prompts, threads
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.members import add_member, set_active
from nbcohort.cohorts.store import Store

__all__ = ["ANCHOR", "Timeline", "utc"]

ANCHOR = "module-1/loading-data"
SYSTEM = Actor.system()


def utc(text: str) -> datetime:
    """``"2026-03-02 05:00"`` as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Timeline:
    """One cohort in ``store``; members are known by username."""

    def __init__(
        self,
        store: Store,
        *,
        created: str = "2026-02-20 12:00",
        starts: date | None = date(2026, 3, 2),
        tz: str = "America/New_York",
        slug: str = "spring",
    ) -> None:
        self.store = store
        self.members: dict[str, Member] = {}
        with self.at(created) as s:
            self.cohort = create_cohort(
                s, SYSTEM, slug, slug.title(), starts_on=starts, timezone=tz
            )

    @contextmanager
    def at(self, when: str) -> Iterator[Session]:
        """A unit of work as if it were ``when`` (UTC)."""
        with clock_at(utc(when)), self.store.write() as s:
            yield s

    def actor(self, s: Session, who: str) -> Actor:
        return Actor.of(s.merge(self.members[who]))

    def join(self, when: str, *names: str, role: str = "learner") -> None:
        with self.at(when) as s:
            for name in names:
                self.members[name] = add_member(
                    s, SYSTEM, s.merge(self.cohort), name=name.title(), username=name,
                    email=f"{name}@example.org", role=role,
                )  # fmt: skip
            s.flush()

    def leave(self, when: str, who: str) -> None:
        with self.at(when) as s:
            set_active(s, SYSTEM, s.merge(self.members[who]), False)

    def post(
        self, when: str, who: str, body: str = "a post", *, parent: int | None = None,
        anchor: str = ANCHOR,
    ) -> int:  # fmt: skip
        with self.at(when) as s:
            made = posts.create_post(
                s, self.actor(s, who), s.merge(self.cohort), anchor, body, parent_id=parent
            )
            s.flush()
            return made.id

    def delete(self, when: str, who: str, post_id: int) -> None:
        with self.at(when) as s:
            posts.delete_post(s, self.actor(s, who), post_id)

    def read(self, when: str, who: str, anchor: str = ANCHOR) -> None:
        with self.at(when) as s:
            threads.mark_read(s, self.actor(s, who), s.merge(self.cohort), anchor)

    def react(self, when: str, who: str, post_id: int, kind: str = "helpful") -> None:
        with self.at(when) as s:
            posts.react(s, self.actor(s, who), post_id, kind)

    def share(self, when: str, who: str, title: str = "a notebook") -> int:
        with self.at(when) as s:
            made = artifacts.share_artifact(
                s, self.actor(s, who), s.merge(self.cohort), filename="nb.ipynb",
                content=b"{}", title=title,
            )  # fmt: skip
            return made.id

    def copy(self, when: str, who: str, artifact_id: int) -> None:
        with self.at(when) as s:
            artifacts.copy_artifact(s, self.actor(s, who), artifact_id)

    def practices(self, when: str, keys: Sequence[str]) -> None:
        with self.at(when) as s:
            practices.sync_practices(s, SYSTEM, s.merge(self.cohort), {k: k.title() for k in keys})

    def apply(self, when: str, who: str, practice: str) -> None:
        with self.at(when) as s:
            practices.mark_applied(s, self.actor(s, who), s.merge(self.cohort), practice)

    def prompts(self, when: str, texts: dict[str, str]) -> None:
        with self.at(when) as s:
            prompts.sync_prompts(s, SYSTEM, s.merge(self.cohort), texts)

    def answer(self, when: str, who: str, key: str, body: str = "my answer") -> int:
        with self.at(when) as s:
            made = prompts.answer_prompt(s, self.actor(s, who), s.merge(self.cohort), key, body)
            s.flush()
            return made.id

    def metrics(self, now: str, days: int = 28, **options: Any) -> dict[str, Metric]:
        """Every metric at ``now`` over ``days``, by id."""
        at = utc(now).timestamp()
        with self.store.read() as s:
            frames = load_frames(s, s.merge(self.cohort), now=at, days=days)
        found = compute_metrics(frames, days=days, now=at, **options)
        return {m.id: m for m in found}
