"""``nbcohort review``: run a peer-review round on an nbgrader assignment.

The CLI is the one place cohorts code reaches into the exchange (DESIGN.md: CLI wiring)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from traitlets import Bool, Int, List, Unicode

from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand, common_aliases
from nbcohort.cohorts.course import CourseError
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.members import find_member
from nbcohort.cohorts.services.review_rounds import find_round, set_override
from nbcohort.cohorts.services.review_status import remind_reviewers, round_status

__all__ = ["ReviewApp"]

SYSTEM = Actor.system()


def parse_due(value: str, tz: str) -> datetime:
    """``2026-12-03`` (end of that day) or ``2026-12-03T17:00``, in the cohort's time zone
    unless the value carries its own offset."""
    if not value:
        raise CommandError("--due is required, e.g. --due 2026-12-03T17:00")
    try:
        if len(value) == 10:
            when = datetime.combine(datetime.fromisoformat(value).date(), time(23, 59))
        else:
            when = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"--due {value!r}: use a date like 2026-12-03 or 2026-12-03T17:00"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo(tz))


class _ReviewCommand(NbCohortCommand):
    due = Unicode("", help="Due date: YYYY-MM-DD (end of day) or YYYY-MM-DDTHH:MM.").tag(
        config=True
    )
    aliases = {**common_aliases, "due": "_ReviewCommand.due"}

    @contextmanager
    def round_context(self) -> Iterator[Any]:
        """What a round's steps need (``exchange.round_context``), its store closed at the end."""
        from nbcohort.exchange.round_context import RoundContext

        data_dir = Path(self.settings().data_dir)
        with self.store() as store:
            yield RoundContext(store, self.config, self.cohort_slug(), data_dir, self.course_root())

    def due_at(self, ctx: Any) -> datetime:
        with ctx.store.read() as s:
            tz = self.cohort(s).timezone
        return parse_due(self.due, tz)

    def start(self) -> None:
        from nbcohort.exchange.allocation import AllocationError
        from nbcohort.exchange.nbgrader_io import NbGraderError
        from nbcohort.exchange.round_context import RoundError

        try:
            super().start()
        except (RoundError, NbGraderError, AllocationError, CourseError) as exc:
            print(f"nbcohort {self.name}: error: {exc}", file=sys.stderr)
            self.exit(2)


class ReviewOpen(_ReviewCommand):
    name = "review open"
    description = "Collect submissions through nbgrader, allocate reviewers, publish packets."
    reviewers = Int(0, help="Reviewers per submission (default: course.toml's).").tag(config=True)
    seed = Int(-1, help="Allocation seed (default: random; recorded in the round).").tag(
        config=True
    )
    aliases = {
        **_ReviewCommand.aliases,
        "reviewers": "ReviewOpen.reviewers",
        "seed": "ReviewOpen.seed",
        "due": "_ReviewCommand.due",
    }

    def run(self) -> None:
        from nbcohort.exchange.round_open import open_round

        assignment = self.arg(0, "the assignment")
        with self.round_context() as ctx:
            report = open_round(
                ctx,
                assignment,
                due=self.due_at(ctx),
                reviewers=self.reviewers or None,
                seed=None if self.seed < 0 else self.seed,
            )
        print(
            f"opened the review round for {assignment}: {report.submissions} submissions, "
            f"{report.allocations} packets"
        )
        for student, why in sorted(report.excluded.items()):
            print(f"  left out {student}: {why}")
        for author, found in sorted(report.mentions.items()):
            print(f"  check {author}'s packet by hand: " + "; ".join(found))


class ReviewStatus(_ReviewCommand):
    name = "review status"
    description = "Where a round stands: reviews done per submission, work left per reviewer."
    as_json = Bool(False, help="Print JSON.").tag(config=True)
    flags = {"json": ({"ReviewStatus": {"as_json": True}}, "Print JSON.")}

    def run(self) -> None:
        assignment = self.arg(0, "the assignment")
        with self.store() as store, store.read() as s:
            status = round_status(s, SYSTEM, find_round(s, SYSTEM, self.cohort(s), assignment))
        if self.as_json:
            print(json.dumps(status, indent=1, default=str))
            return
        print(f"{assignment}: {status['status']}, due {status['due_at']}, k={status['k']}")
        for sub in status["submissions"]:
            line = f"  {sub['author']:<20} {sub['reviews_done']}/{sub['reviews_assigned']} reviews"
            if sub["result"]:
                line += f"  score {sub['result'].get('total', '-')}"
            if sub["override"]:
                line += "  (overridden)"
            print(line + "".join(f"\n      ! {p}" for p in sub["problems"]))
        for r in status["reviewers"]:
            extra = f", helpfulness {r['helpfulness']} ({r['ratings']})" if r["ratings"] else ""
            late = f", {r['late']} late" if r["late"] else ""
            gone = " (left the roster)" if not r["active"] else ""
            done = f"{r['done']}/{r['assigned']} done"
            print(f"  reviewer {r['username']:<15} {done}{late}{extra}{gone}")
        for student, why in sorted(status.get("excluded", {}).items()):
            print(f"  left out {student}: {why}")


class ReviewRemind(_ReviewCommand):
    name = "review remind"
    description = "Notify reviewers who still have reviews to submit."

    def run(self) -> None:
        assignment = self.arg(0, "the assignment")
        with self.store() as store, store.write() as s:
            told = remind_reviewers(s, SYSTEM, self.cohort(s), assignment)
        for username, pending in sorted(told.items()):
            print(f"  reminded {username}: {pending} review(s) to submit")
        print(f"reminded {len(told)} reviewer(s)")


class ReviewReassign(_ReviewCommand):
    name = "review reassign"
    description = "Add late submissions and move missed reviews to a backup pool."
    pool = List(Unicode(), [], help="Extra backup reviewers (usernames), e.g. facilitators.").tag(
        config=True
    )
    aliases = {**_ReviewCommand.aliases, "pool": "ReviewReassign.pool"}

    def run(self) -> None:
        from nbcohort.exchange.round_update import update_round

        assignment = self.arg(0, "the assignment")
        pool = [p for item in self.pool for p in item.split(",") if p]
        with self.round_context() as ctx:
            report = update_round(ctx, assignment, due=self.due_at(ctx), pool=pool)
        for late in report.late:
            print(f"  added late submission of {late}")
        for author, old, new in report.moved:
            print(f"  review of {author}'s work moved from {old} to {new}")
        for student, why in sorted(report.excluded.items()):
            print(f"  left out {student}: {why}")
        print(f"{len(report.late)} late submission(s) added, {len(report.moved)} review(s) moved")


class ReviewClose(_ReviewCommand):
    name = "review close"
    description = "Aggregate the reviews, write scores to nbgrader's gradebook, release feedback."
    force = Bool(False, help="Close before the due date.").tag(config=True)
    complete_short = Bool(False, help="Complete submissions that lack reviews with fewer.").tag(
        config=True
    )
    flags = {
        "force": ({"ReviewClose": {"force": True}}, "Close before the due date."),
        "complete-short": (
            {"ReviewClose": {"complete_short": True}},
            "Complete submissions that lack reviews with fewer.",
        ),
    }

    def run(self) -> None:
        from nbcohort.exchange.round_close import close

        assignment = self.arg(0, "the assignment")
        with self.round_context() as ctx:
            report = close(ctx, assignment, force=self.force, complete_short=self.complete_short)
        print(
            f"closed {assignment}: {report.results} results, {report.graded} written to "
            "nbgrader's gradebook with feedback released"
        )
        for author, got in sorted(report.short.items()):
            print(f"  {author}: completed with {got} review(s)")
        for author in report.unreviewed:
            print(f"  {author}: no reviews; grade by hand in formgrader")
        for student, why in sorted(report.grades.items()):
            print(f"  gradebook: {student}: {why}")


class ReviewReopen(_ReviewCommand):
    name = "review reopen"
    description = "Open a closed round again until a new due date."

    def run(self) -> None:
        from nbcohort.exchange.round_close import reopen

        assignment = self.arg(0, "the assignment")
        with self.round_context() as ctx:
            reopen(ctx, assignment, due=self.due_at(ctx))
        print(f"reopened {assignment} until {self.due}; close it again to update the grades")


class ReviewOverride(_ReviewCommand):
    name = "review override"
    description = "An instructor's score wins: review override A MEMBER --score c=2 --reason '...'"
    score = List(Unicode(), [], help="criterion=points (repeatable).").tag(config=True)
    reason = Unicode("", help="Why (logged; the author reads it).").tag(config=True)
    aliases = {
        **_ReviewCommand.aliases,
        "score": "ReviewOverride.score",
        "reason": "ReviewOverride.reason",
    }

    def run(self) -> None:
        from nbcohort.exchange.round_close import push_grades

        assignment, username = self.arg(0, "the assignment"), self.arg(1, "the member")
        scores = {}
        for item in self.score:
            cid, _, value = item.partition("=")
            try:
                scores[cid.strip()] = float(value)
            except ValueError:
                raise CommandError(f"--score {item!r}: use criterion=points") from None
        if not scores:
            raise CommandError("give at least one --score criterion=points")
        with self.round_context() as ctx:
            with ctx.store.write() as s:
                cohort = self.cohort(s)
                rnd = find_round(s, SYSTEM, cohort, assignment)
                set_override(s, SYSTEM, rnd, find_member(s, cohort, username), scores, self.reason)
                closed = rnd.status == "closed"
            print(f"override recorded for {username}")
            if closed:
                result = push_grades(ctx, assignment)
                print(f"gradebook updated ({result['graded']} written)")


class ReviewApp(NbCohortCommand):
    name = "review"
    description = "Run peer-review rounds on nbgrader assignments."
    subcommands = {
        cls.name.split()[1]: (cls, cls.description)
        for cls in (
            ReviewOpen,
            ReviewStatus,
            ReviewRemind,
            ReviewReassign,
            ReviewClose,
            ReviewReopen,
            ReviewOverride,
        )
    }

    def run(self) -> None:
        raise CommandError(f"choose a command: {', '.join(self.subcommands)}")
