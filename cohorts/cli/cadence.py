"""``nbcohort cadence tick`` (cron, every minute) and ``nbcohort cadence plan``."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta

from traitlets import Bool, Int, Unicode

from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand, common_aliases
from nbcohort.cohorts.config import CadenceSettings
from nbcohort.cohorts.local_time import in_zone, valid_zone
from nbcohort.cohorts.models import utcnow

__all__ = ["CadenceApp", "CadencePlan", "CadenceTick", "parse_now"]


def parse_now(value: str) -> datetime:
    """``--now``: an ISO time with its zone (the tick acts as if it were then)."""
    if not value:
        return utcnow()
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"--now must be an ISO time like 2027-03-02T09:00+01:00, not {value!r}"
        ) from None
    if when.tzinfo is None:
        raise CommandError(f"--now needs a time zone (like +01:00 or Z): {value!r}")
    return when


class CadenceTick(NbCohortCommand):
    name = "cadence tick"
    description = (
        "Publish what the cohort's rhythm has due (micro-prompts, routines, highlights, clinic "
        "threads) and send due onboarding steps, each exactly once. Run it every minute from "
        "cron; two at once or one killed halfway are safe (the database decides)."
    )
    all_cohorts = Bool(False, help="Tick every cohort that has a cohort file.").tag(config=True)
    now = Unicode("", help="Act as if it were this time (ISO, with zone).").tag(config=True)
    verbose = Bool(False, help="Say what each step did even when nothing was due.").tag(config=True)
    aliases = {**common_aliases, "now": "CadenceTick.now"}
    flags = {
        "all": ({"CadenceTick": {"all_cohorts": True}}, "Tick every cohort with a cohort file."),
        "verbose": ({"CadenceTick": {"verbose": True}}, "Report every step, every time."),
    }

    def run(self) -> None:
        from nbcohort.cohorts.services.cadence_tick import run_tick

        now = parse_now(self.now)
        slugs = None if self.all_cohorts else [self.cohort_slug()]
        with self.store() as store:
            started = time.perf_counter()  # the tick's own work, after the CLI's start-up
            reports = run_tick(
                store, slugs, now=now, settings=CadenceSettings(parent=self), config=self.config
            )
            took = time.perf_counter() - started
        quiet = ("up to date", "nothing due")
        failed = False
        for report in reports:
            busy = any(said not in quiet for _, said in report.steps)
            if busy or self.verbose:
                print(f"{report} ({took * 1000:.0f} ms)", flush=True)
            for error in report.errors:
                print(f"nbcohort cadence tick: error: {error}", file=sys.stderr)
                failed = True
        if failed:
            self.exit(1)


class CadencePlan(NbCohortCommand):
    name = "cadence plan"
    description = (
        "Print what the cohort's rhythm will do, and when: nbcohort cadence plan --days 30 "
        "[--tz Europe/Paris]"
    )
    days = Int(30, help="How many days ahead.").tag(config=True)
    tz = Unicode("", help="Show times in this zone (default: the cohort's).").tag(config=True)
    now = Unicode("", help="From this time (ISO, with zone) instead of now.").tag(config=True)
    aliases = {
        **common_aliases,
        "days": "CadencePlan.days",
        "tz": "CadencePlan.tz",
        "now": "CadencePlan.now",
    }

    def run(self) -> None:
        from nbcohort.cohorts.services.cadence_view import plan_lines
        from nbcohort.cohorts.services.rhythm import rhythm_of

        if self.days < 1:
            raise CommandError("--days must be 1 or more")
        start = parse_now(self.now)
        with self.store() as store, store.read() as s:
            cohort = self.cohort(s)
            spec = rhythm_of(cohort)
            if spec is None:
                raise CommandError(
                    f"cohort {cohort.slug!r} has no cohort file: nbcohort cohort apply FILE"
                )
            lines = plan_lines(s, cohort, spec, start, start + timedelta(days=self.days))
        try:
            zone = valid_zone(self.tz) if self.tz else in_zone(cohort.timezone)
        except ValueError as exc:
            raise CommandError(f"--tz: {exc}") from None
        print(f"{cohort.title}: the next {self.days} days ({zone.key})")
        for line in lines:
            print(line.text(zone))
        if not lines:
            print("nothing planned")


class CadenceApp(NbCohortCommand):
    name = "cadence"
    description = "The cohort's rhythm: publish what is due; show the plan."
    subcommands = {
        "tick": (CadenceTick, CadenceTick.description),
        "plan": (CadencePlan, CadencePlan.description),
    }

    def run(self) -> None:
        raise CommandError("choose a subcommand: tick, plan")
