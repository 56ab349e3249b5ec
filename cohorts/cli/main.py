"""``nbcohort``: the one command instructors run cohorts with."""

from __future__ import annotations

from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand

__all__ = ["NbCohortApp", "main"]


class NbCohortApp(NbCohortCommand):
    # Every subcommand by its import string: a command imports its own module (and what it
    # needs: models, services, alembic) only when it runs; cron pays for the tick alone.
    name = "nbcohort"
    description = "Run a course as a cohort and carry it on as a community of practice."
    subcommands = {
        "init": ("nbcohort.cohorts.cli.scaffold.InitCommand", "Scaffold a new course and cohort."),
        "cohort": (
            "nbcohort.cohorts.cli.commands.CohortApp",
            "Create and list cohorts; check and apply a cohort file.",
        ),
        "course": (
            "nbcohort.cohorts.cli.course.CourseApp",
            "Keep the cohort in step with course.toml.",
        ),
        "roster": (
            "nbcohort.cohorts.cli.commands.RosterApp",
            "Import and list the cohort's roster.",
        ),
        "token": (
            "nbcohort.cohorts.cli.commands.TokenCommand",
            "Mint an API token for a member (by username or email); it is shown once.",
        ),
        "serve": (
            "nbcohort.cohorts.cli.commands.ServeCommand",
            "Run the community service that widgets and pages talk to.",
        ),
        "upgrade-db": (
            "nbcohort.cohorts.cli.commands.UpgradeDb",
            "Create the community database, or upgrade its schema to this version.",
        ),
        "export": (
            "nbcohort.cohorts.cli.commands.ExportCommand",
            "Write the whole community to a portable archive (zip of JSON Lines).",
        ),
        "import": (
            "nbcohort.cohorts.cli.commands.ImportCommand",
            "Load an archive written by 'nbcohort export' into an empty database.",
        ),
        "review": ("nbcohort.cohorts.cli.review.ReviewApp", "Run peer-review rounds."),
        "exchange": (
            "nbcohort.cohorts.cli.exchange.ExchangeApp",
            "The service's exchange: check its archives, remove what a crash left.",
        ),
        "charter": ("nbcohort.cohorts.cli.charter.CharterApp", "The cohort's charter."),
        "cadence": (
            "nbcohort.cohorts.cli.cadence.CadenceApp",
            "The cohort's rhythm: tick (cron) and plan.",
        ),
        "events": ("nbcohort.cohorts.cli.events.EventsApp", "The cohort's calendar."),
        "mail": ("nbcohort.cohorts.cli.mail.MailApp", "Email: send, digests, test."),
        "demo": ("nbcohort.cohorts.cli.demo.DemoCommand", "Run the demo cohort."),
        "pages": ("nbcohort.cohorts.cli.pages.PagesApp", "The Voila pages: export, copy."),
        "badges": ("nbcohort.cohorts.cli.recognition.BadgesApp", "Badges: backfill, revoke."),
        "champions": (
            "nbcohort.cohorts.cli.recognition.ChampionsApp",
            "Champions: suggest, appoint.",
        ),
        "moderation": (
            "nbcohort.cohorts.cli.moderation.ModerationApp",
            "Moderation: held posts, flags, appeals.",
        ),
        "ideas": ("nbcohort.cohorts.cli.pilots.IdeasApp", "Ideas: list, decline."),
        "pilots": ("nbcohort.cohorts.cli.pilots.PilotsApp", "Pilots: list, make, update."),
    }

    def run(self) -> None:
        names = ", ".join(self.subcommands)
        raise CommandError(f"choose a command: {names} (nbcohort --help for more)")


def main() -> None:
    NbCohortApp.launch_instance()
