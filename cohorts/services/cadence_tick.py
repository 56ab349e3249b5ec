"""``nbcohort cadence tick``: everything time-driven, as a list of steps run in order.

Cron runs the tick every minute, and two ticks may overlap or one may be killed halfway: the
database decides what is due and that it happens once, never a lock file. Each step reads what
is due, then writes it in transactions of its own whose statements make a second attempt do
nothing (a conditional state flip, a unique row), so a step can always run again.

The steps (``STEPS``), each ``step(ctx) -> str`` (a one-line summary for the log):

- ``plan``: keep the cadence plan filled ``CadenceSettings.horizon_days`` ahead;
- ``publish``: publish each due item (micro-prompt, routine post, weekly highlights, clinic
  thread), one transaction per item (``cadence_publish.py``);
- ``onboarding``: record and notify the onboarding steps that came due (``onboarding.py``);
- ``mail``: queue the email of those steps and of the routine and highlights posts just
  published (``mail/rhythm.py``); ``nbcohort mail send`` sends what is queued.

**Adding a step**: write ``def step(ctx: TickContext) -> str`` in its own module, doing its
work in ``ctx.store.write()`` units that are safe to run twice at once (a conditional state
flip, a unique row such as ``OutboxMessage.dedupe_key``), and append it to ``STEPS`` below.
``ctx.now`` is the tick's clock (``--now`` in tests), ``ctx.cohort`` the
cohort (detached), ``ctx.spec`` its cohort file (``spec.cadence.digest``,
``spec.notifications``), ``ctx.settings`` the CadenceSettings; configuration of your own is
read through ``ctx.config`` (the command's traitlets config). A step that raises is reported
and the next step still runs; the command then exits 1.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from traitlets.config import Config

from nbcohort.cohorts.cohort_file import CohortFile
from nbcohort.cohorts.config import CadenceSettings
from nbcohort.cohorts.models import CadenceItem, Cohort, utcnow
from nbcohort.cohorts.prompt_library import community_prompts
from nbcohort.cohorts.services.badges import badges_step
from nbcohort.cohorts.services.cadence_plan import plan_items, planned_until, sync_plan
from nbcohort.cohorts.services.cadence_publish import Waiting, publish_item
from nbcohort.cohorts.services.nudges import nudges_step
from nbcohort.cohorts.services.onboarding import find_due, send_due_steps
from nbcohort.cohorts.services.rhythm import course_prompt_order, plan_window, rhythm_of
from nbcohort.cohorts.store import Store

__all__ = ["STEPS", "TickContext", "TickReport", "run_tick"]

log = logging.getLogger("nbcohort.cadence")


@dataclass
class TickContext:
    """What every step of one tick, for one cohort, is given."""

    store: Store
    cohort: Cohort
    spec: CohortFile
    now: datetime
    settings: CadenceSettings
    config: Config = field(default_factory=Config)
    onboarded: int = 0  # onboarding steps notified by this tick (the mail step emails them)


@dataclass
class TickReport:
    cohort: str
    steps: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        done = "; ".join(f"{name}: {said}" for name, said in self.steps)
        return f"{self.cohort}: {done}" if done else f"{self.cohort}: nothing to do"


def plan_ahead(ctx: TickContext) -> str:
    """Add the items that have come within the horizon since the plan was last filled."""
    start, end = plan_window(ctx.spec, ctx.now, ctx.settings.horizon_days)
    with ctx.store.read() as s:
        until = planned_until(s, ctx.cohort.id)
    if until is not None and until >= end - timedelta(days=1):
        return "up to date"
    items = plan_items(ctx.spec, course_prompt_order(ctx.cohort), community_prompts(), start, end)
    new = [item for item in items if until is None or item.due_at > until]
    if not new:
        return "up to date"
    with ctx.store.write() as s:
        change = sync_plan(s, ctx.cohort, new)
    return f"{change.added} planned"


def publish_due(ctx: TickContext) -> str:
    """Publish each item that is due, in its own transaction."""
    with ctx.store.read() as s:
        due = list(
            s.scalars(
                select(CadenceItem.id)
                .where(
                    CadenceItem.state == "planned",
                    CadenceItem.due_at <= ctx.now,
                    CadenceItem.cohort_id == ctx.cohort.id,
                )
                .order_by(CadenceItem.due_at, CadenceItem.id)
            )
        )
    lateness = timedelta(hours=ctx.settings.max_lateness_hours)
    counts: dict[str, int] = {}
    for item_id in due:
        try:
            with ctx.store.write() as s:
                state = publish_item(s, ctx.cohort, ctx.spec, item_id, ctx.now, lateness)
        except Waiting as wait:
            counts["waiting"] = counts.get("waiting", 0) + 1
            log.warning("%s: cadence item %s waits: %s", ctx.cohort.slug, item_id, wait)
            continue
        label = state or "already published"
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"{n} {label}" for label, n in counts.items()) or "nothing due"


def onboarding_due(ctx: TickContext) -> str:
    """Send the onboarding steps that came due; a read first, a write only when some did."""
    with ctx.store.read() as s:
        anything = find_due(s, ctx.cohort, ctx.spec, ctx.now)
    if not anything:
        return "nothing due"
    with ctx.store.write() as s:
        report = send_due_steps(s, ctx.cohort, ctx.spec, ctx.now)
    ctx.onboarded = report.sent
    return str(report)


def mail_due(ctx: TickContext) -> str:
    """Queue the rhythm's email into the outbox (``mail/rhythm.py``): the onboarding steps
    this tick notified, and the routine and highlights posts just published. ``nbcohort mail
    send`` sends them."""
    with ctx.store.read() as s:
        published = s.scalar(
            select(CadenceItem.id)
            .where(
                CadenceItem.cohort_id == ctx.cohort.id,
                CadenceItem.state == "published",
                CadenceItem.kind.in_(("routine", "highlights")),
                CadenceItem.due_at > ctx.now - timedelta(hours=ctx.settings.max_lateness_hours),
                CadenceItem.due_at <= ctx.now,
                CadenceItem.published_at > ctx.now - RECENT_MAIL,
            )
            .limit(1)
        )
    if not ctx.onboarded and published is None:
        return "nothing due"
    # Imported here: a tick with nothing to mail never loads templates or the sanitizer.
    from nbcohort.cohorts.mail.rhythm import queue_cadence_mail, queue_onboarding_mail

    mailer = rhythm_mailer(ctx.config)
    onboarding = queue_onboarding_mail(ctx.store, mailer, ctx.cohort, ctx.now)
    cadence = queue_cadence_mail(ctx.store, mailer, ctx.cohort, ctx.now) if published else 0
    if not onboarding and not cadence:
        return "nothing due"
    return f"{onboarding} onboarding and {cadence} routine or highlights emails queued"


def rhythm_mailer(config: Config) -> Any:
    """The Mailer of the tick's config (MailSettings, the data dir, the signing key)."""
    from nbcohort.cohorts.config import ClientSettings, MailSettings, NbCohort, ServiceSettings
    from nbcohort.cohorts.mail.mailer import Mailer

    where = NbCohort(config=config)
    return Mailer(
        MailSettings(config=config),
        where.data_dir,
        public_url=ServiceSettings(config=config).public_base(ClientSettings(config=config).url),
        key_file=str(where.signing_key_path()),
    )


RECENT_MAIL = timedelta(minutes=30)  # mail/rhythm.py's RECENT: what a later tick makes good

Step = Callable[[TickContext], str]

STEPS: list[tuple[str, Step]] = [
    ("plan", plan_ahead),
    ("publish", publish_due),
    ("onboarding", onboarding_due),
    ("mail", mail_due),
    ("badges", badges_step),
    ("nudges", nudges_step),
    # Sending stays `nbcohort mail send`'s (cron): a tick never waits for an SMTP server.
]


def run_tick(
    store: Store,
    slugs: list[str] | None = None,
    *,
    now: datetime | None = None,
    settings: CadenceSettings | None = None,
    config: Config | None = None,
    steps: list[tuple[str, Step]] | None = None,
) -> list[TickReport]:
    """Run every step for each cohort in ``slugs`` (None: every cohort with a cohort file)."""
    now = now or utcnow()
    settings = settings or CadenceSettings()
    query = select(Cohort).order_by(Cohort.slug)
    if slugs is not None:
        query = query.where(Cohort.slug.in_(slugs))
    with store.read() as s:
        cohorts = list(s.scalars(query))
    reports = []
    for cohort in cohorts:
        spec = rhythm_of(cohort)
        if spec is None and slugs is None:
            continue  # a cohort without a rhythm
        report = TickReport(cohort.slug)
        reports.append(report)
        if spec is None:
            report.errors.append(f"{cohort.slug}: no cohort file applied (nbcohort cohort apply)")
            continue
        ctx = TickContext(store, cohort, spec, now, settings, config or Config())
        for name, step in steps if steps is not None else STEPS:
            try:
                report.steps.append((name, step(ctx)))
            except Exception as exc:  # reported, and the next step still runs
                log.exception("%s: tick step %s failed", cohort.slug, name)
                report.errors.append(f"{cohort.slug}: {name}: {type(exc).__name__}: {exc}")
    return reports
