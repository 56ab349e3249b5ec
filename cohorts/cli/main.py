"""``nbcohort``: the one command instructors run cohorts with."""

from __future__ import annotations

from nbcohort.cohorts.cli import commands
from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand

__all__ = ["NbCohortApp", "main"]


class NbCohortApp(NbCohortCommand):
    name = "nbcohort"
    description = "Run a course as a cohort and carry it on as a community of practice."
    subcommands = {
        "init": ("nbcohort.cohorts.cli.scaffold.InitCommand", "Scaffold a new course and cohort."),
        "cohort": (commands.CohortApp, commands.CohortApp.description),
        "course": (
            "nbcohort.cohorts.cli.course.CourseApp",
            "Keep the cohort in step with course.toml.",
        ),
        "roster": (commands.RosterApp, commands.RosterApp.description),
        "token": (commands.TokenCommand, commands.TokenCommand.description),
        "serve": (commands.ServeCommand, commands.ServeCommand.description),
        "upgrade-db": (commands.UpgradeDb, commands.UpgradeDb.description),
        "export": (commands.ExportCommand, commands.ExportCommand.description),
        "import": (commands.ImportCommand, commands.ImportCommand.description),
        "review": ("nbcohort.cohorts.cli.review.ReviewApp", "Run peer-review rounds."),
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
