"""``nbcohort cohort graduate SLUG``: the formal course ends and the cohort joins the
community of practice its cohort file names (``services/graduation.py``)."""

from __future__ import annotations

from traitlets import Bool

from nbcohort.cohorts.cli.base import NbCohortCommand
from nbcohort.cohorts.config_features import CadenceSettings
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_registry import get_cohort
from nbcohort.cohorts.services.graduation import graduate

__all__ = ["CohortGraduate"]


class CohortGraduate(NbCohortCommand):
    name = "cohort graduate"
    description = (
        "End the formal course of cohort SLUG: learners become alumni (other roles stay), "
        "community topics open, the cadence switches to the cohort file's [community] "
        "rhythm and review rounds no longer open. Nothing is deleted; refused while a review "
        "round is open; running it again changes nothing. --dry-run says what would change."
    )
    dry_run = Bool(False, help="Say what graduating would change, and change nothing.").tag(
        config=True
    )
    flags = {
        "dry-run": (
            {"CohortGraduate": {"dry_run": True}},
            "Say what graduating would change, and change nothing.",
        )
    }

    def run(self) -> None:
        slug = self.arg(0, "the cohort's slug")
        horizon = CadenceSettings(parent=self).horizon_days
        with self.store() as store, store.write() as s:
            report = graduate(
                s, Actor.system(), get_cohort(s, slug), dry_run=self.dry_run, horizon_days=horizon
            )
        print(report.summary())
