"""The demo hub's review round, so the reviewer it prints has packets to review: on the first
run, once the hub is up, project-1 is released through the service exchange (nbgrader's
exchange as the nbcohort service, no shared folder), a few demo learners fetch and submit it
through the same exchange with their own hub tokens (in-process, each in a folder of their
own), and the round is opened as the instructor's ``nbcohort review open`` opens it from the
instructor's server (collect through the service, autograde, allocate, packets uploaded)."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
from nbgrader.exchange import ExchangeError
from sqlalchemy import select
from traitlets.config import Config

from nbcohort.cohorts.cli.base import CommandError
from nbcohort.cohorts.demo_seed import DEMO_SLUG
from nbcohort.cohorts.models import Cohort, ReviewRound, utcnow
from nbcohort.cohorts.store import Store

if TYPE_CHECKING:
    from nbcohort.cohorts.cli.demo import DemoCommand

__all__ = ["REVIEWED", "seed_review_round", "service_exchange_config"]

REVIEWED = "project-1"  # course.toml's peer-reviewed assignment
REVIEWERS = 2
_ANSWERS = {
    "b1-question": "Which ticket categories take longest to close, and is that changing?",
    "b3-findings": "Billing tickets take twice as long as the rest; the gap grew in March.",
    "b4-recommendation": "Route billing tickets to the finance desk first; check in a month.",
}


def _has_round(store: Store) -> bool:
    with store.read() as s:
        return (
            s.scalar(
                select(ReviewRound.id)
                .join(Cohort, ReviewRound.cohort_id == Cohort.id)
                .where(Cohort.slug == DEMO_SLUG, ReviewRound.assignment == REVIEWED)
            )
            is not None
        )


def seed_review_round(
    cmd: DemoCommand, store: Store, service_url: str, tokens: dict[str, str], authors: list[str]
) -> str:
    """Open the demo's review round of ``REVIEWED`` with ``authors`` submitting (first run
    only), everything through the service exchange at ``service_url``: ``tokens`` are the hub
    tokens of the authors and of the instructor (key ``""``). Returns a line saying what was
    done ('' when the round was there already)."""
    if _has_round(store):
        return ""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory

    from nbcohort.exchange.nbgrader_io import NbGraderError, nbgrader_api
    from nbcohort.exchange.round_context import RoundContext, RoundError
    from nbcohort.exchange.round_open import open_round
    from nbcohort.exchange.service_exchange import (
        ServiceFetchAssignment,
        ServiceSubmit,
    )

    config = service_exchange_config(cmd.config, service_url, tokens[""])
    config.NbGraderAPI.log_level = "ERROR"
    level = cmd.log.level  # nbgrader sets the level of the log it shares with this command
    data_dir = Path(cmd.settings().data_dir)
    try:
        api = nbgrader_api(config)
        result = api.release_assignment(REVIEWED)  # through the service, as the instructor
        if not result.get("success"):
            detail = (result.get("error") or result.get("log") or "").strip()[-2000:]
            raise CommandError(f"demo review round: nbgrader release_assignment failed:\n{detail}")
        for username in authors:
            folder = data_dir / "demo" / "hub" / "submitters" / username
            folder.mkdir(parents=True, exist_ok=True)
            cfg = copy.deepcopy(config)  # Config(config) would share its sections
            cfg.Exchange.assignment_dir = str(folder)
            cfg.ServiceExchange.token = tokens[username]  # the learner's own hub token
            coursedir = CourseDirectory(config=cfg, root=str(folder))
            coursedir.assignment_id, coursedir.student_id = REVIEWED, username
            for step in (ServiceFetchAssignment, ServiceSubmit):
                if step is ServiceSubmit:
                    _answer(next(folder.rglob(f"{REVIEWED}.ipynb")))
                step(
                    coursedir=coursedir, authenticator=Authenticator(config=cfg), config=cfg
                ).start()
        ctx = RoundContext(store, config, DEMO_SLUG, data_dir, cmd.course_root())
        ctx.__dict__["api"] = api  # one NbGraderAPI (and gradebook) for the whole set-up
        report = open_round(
            ctx, REVIEWED, due=utcnow() + timedelta(days=7), reviewers=REVIEWERS, seed=7
        )
    except (NbGraderError, RoundError, ExchangeError) as exc:
        raise CommandError(f"demo review round: {exc}") from None
    finally:
        cmd.log.setLevel(level)
    return (
        f"opened the review round of {REVIEWED}: {report.submissions} submissions, "
        f"{report.allocations} packets to review"
    )


def service_exchange_config(base: Config, service_url: str, token: str) -> Config:
    """``base`` with nbgrader's exchange as the service at ``service_url`` (``token``: whose
    hub token it sends) and the demo cohort's slug as the course id, as the exchange needs."""
    from nbcohort.exchange.service_exchange import FACTORY

    config = copy.deepcopy(base)
    config.Exchange.pop("root", None)  # the filesystem exchange's folder: the service has none
    for name, cls in FACTORY.items():
        setattr(config.ExchangeFactory, name, cls)
    config.CourseDirectory.course_id = DEMO_SLUG
    config.ServiceExchange.url = service_url
    config.ServiceExchange.token = token
    return config


def _answer(path: Path) -> None:
    """Part B's answers, so that a packet has something to review."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in _ANSWERS:
            cell.source = _ANSWERS[grade_id]
    nbformat.write(nb, path)
