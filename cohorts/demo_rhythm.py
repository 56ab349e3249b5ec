"""The demo cohort's rhythm: its cohort file, a published charter some members acknowledged,
a month of cadence planned with the first two weeks published, onboarding in progress for a
few newcomers, and an outbox of real ``.eml`` messages a person can open.

Everything goes through the real parts on a moving clock: the example course's cohort file
(``course/cohorts/*.toml``) made the demo's and applied as ``nbcohort cohort apply`` does, and
``cadence tick`` run at each moment something came due, as cron would have run it. The mail
it queued is then sent with the outbox transport (the embedded default), so nothing leaves
the machine.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select
from traitlets.config import Config

from nbcohort.cohorts.cohort_checks import check_cohort_file
from nbcohort.cohorts.course import CourseSpec
from nbcohort.cohorts.demo_ideas import seed_ideas
from nbcohort.cohorts.models import CadenceItem, Cohort, Member, clock_at, utcnow
from nbcohort.cohorts.services import charter
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cadence_tick import STEPS, rhythm_mailer, run_tick
from nbcohort.cohorts.services.cohort_apply import apply_cohort_file
from nbcohort.cohorts.services.members import add_member, set_email_pref
from nbcohort.cohorts.store import Store

__all__ = ["DemoRhythm", "demo_cohort_file", "seed_rhythm"]

EMAIL_PREFS = ("all", "digest", "none")
PUBLISHED_DAYS = 14  # the plan's first two weeks are behind the demo's "now"
MAILED_DAYS = 4  # the outbox holds the last days' mail: enough to open, quick to write
NEWCOMERS = (  # joined in the last few days: their onboarding is under way
    ("Aiko Tanaka", "aiko.tanaka@example.org", 1),
    ("Bruno Costa", "bruno.costa@example.org", 3),
    ("Chloé Martin", "chloe.martin@example.org", 5),
)


@dataclass
class DemoRhythm:
    cohort_file: Path
    published: int
    planned: int
    acknowledged: int
    outbox: Path
    emails: int


def demo_cohort_file(template: str, slug: str, title: str, start: datetime, staff: dict) -> str:
    """The example cohort file made the demo's: its slug and title, starting ``start``, with
    the demo's own facilitators and champion as the routine's host."""
    replace = {
        r'^slug = ".*"': f'slug = "{slug}"',
        r'^title = ".*"': f'title = "{title}"',
        r"^starts_on = \S+": f"starts_on = {start.date().isoformat()}",
        r"^ends_on = \S+": f"ends_on = {(start + timedelta(weeks=3)).date().isoformat()}",
        r"^facilitators = \[.*?\]": "facilitators = [{}]".format(
            ", ".join(f'"{u}"' for u in staff["facilitators"])
        ),
        r'^host = "[^"]*"': f'host = "{staff["champion"]}"',
    }
    for pattern, value in replace.items():
        template, n = re.subn(pattern, value, template, count=1, flags=re.MULTILINE)
        if n != 1:
            raise ValueError(f"the example cohort file has no line matching {pattern!r}")
    return template


def seed_rhythm(
    store: Store,
    cohort_id: int,
    course: CourseSpec,
    template: Path,
    data_dir: str,
    config: Config,
    *,
    seed: int = 7,
) -> DemoRhythm:
    """Give the seeded demo cohort its rhythm (see the module's docstring)."""
    rng, now = random.Random(seed), utcnow()
    with store.read() as s:
        cohort = s.get_one(Cohort, cohort_id)
        members = list(s.scalars(select(Member).where(Member.cohort_id == cohort_id)))
        s.expunge_all()
    start = datetime.combine(cohort.starts_on or now.date(), time(0), tzinfo=UTC)
    staff = {
        "facilitators": [m.username for m in members if m.role == "facilitator"],
        "champion": next(m.username for m in members if m.role == "champion"),
    }
    text = demo_cohort_file(template.read_text(), cohort.slug, cohort.title, start, staff)
    path = Path(data_dir) / "demo" / f"{cohort.slug}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    spec, problems = check_cohort_file(text, str(path))
    if spec is None:
        raise ValueError("; ".join(str(p) for p in problems))
    system = Actor.system()
    with clock_at(start - timedelta(days=2)), store.write() as s:
        digest = hashlib.sha256(text.encode()).hexdigest()
        apply_cohort_file(s, system, spec, digest, source=str(path), course=course)
        c = s.get_one(Cohort, cohort_id)
        body = charter.new_charter(s, c, spec, course.title)
        charter.publish_charter(s, system, c, body)
    acknowledged = _acknowledge(store, cohort_id, members, start, rng)
    with store.write() as s:  # newcomers whose onboarding is under way
        c = s.get_one(Cohort, cohort_id)
        for name, email, days_ago in NEWCOMERS:
            with clock_at(now - timedelta(days=days_ago, hours=2)):
                add_member(s, system, c, name=name, email=email, role="learner")
    _tick_through(store, cohort.slug, start, now, config)
    seed_ideas(store, cohort_id, seed=seed)  # ideas, endorsements, a pilot: the Pilots sections
    with store.read() as s:
        states = list(
            s.scalars(select(CadenceItem.state).where(CadenceItem.cohort_id == cohort_id))
        )
    outbox, emails = _send_outbox(store, config, data_dir)
    return DemoRhythm(
        path, states.count("published"), states.count("planned"), acknowledged, outbox, emails
    )


def _acknowledge(
    store: Store, cohort_id: int, members: list[Member], start: datetime, rng: random.Random
) -> int:
    """About two members in three acknowledge the charter in their first days; a third want
    every notification by email, a third a digest, a third none."""
    done = 0
    with store.write() as s:
        c = s.get_one(Cohort, cohort_id)
        for i, m in enumerate(members):
            member = s.get_one(Member, m.id)  # not merge: it would copy m's old values back
            set_email_pref(s, Actor.of(member), member, EMAIL_PREFS[i % 3])
            if m.role == "sponsor" or rng.random() > 0.65:
                continue
            with clock_at(start + timedelta(days=rng.uniform(0, 4), hours=9)):
                charter.ack_charter(s, Actor.of(member), c, 1)
                done += 1
    return done


def _tick_through(store: Store, slug: str, start: datetime, now: datetime, config: Config) -> None:
    """Run the tick at each moment something came due since ``start``, and at noon on days
    with nothing due (the onboarding steps), as cron every minute would have; its mail step
    only in the last ``MAILED_DAYS``."""
    with store.read() as s:
        due = list(
            s.scalars(
                select(CadenceItem.due_at).where(
                    CadenceItem.state == "planned", CadenceItem.due_at <= now
                )
            )
        )
    moments = {now} | {d + timedelta(minutes=1) for d in due}
    busy = {m.date() for m in moments}
    for d in range(PUBLISHED_DAYS + 1):
        noon = start + timedelta(days=d, hours=12)
        if noon.date() not in busy:
            moments.add(noon)
    quiet = [step for step in STEPS if step[0] != "mail"]
    for at in sorted(m for m in moments if m <= now):
        steps = STEPS if at > now - timedelta(days=MAILED_DAYS) else quiet
        with clock_at(at):
            for report in run_tick(store, [slug], now=at, config=config, steps=steps):
                if report.errors:
                    raise RuntimeError("; ".join(report.errors))


def _send_outbox(store: Store, config: Config, data_dir: str) -> tuple[Path, int]:
    """Send what the ticks queued through the outbox folder: one ``.eml`` per message."""
    from nbcohort.cohorts.mail import make_transport, send_due

    mailer = rhythm_mailer(config)
    if mailer.settings.transport != "outbox":
        raise ValueError("the demo writes its email to the outbox folder, never through SMTP")
    transport = make_transport(mailer.settings, data_dir)
    sent = 0
    while (report := send_due(store, mailer, transport)).sent:
        sent += report.sent
    return Path(mailer.settings.outbox_dir or Path(data_dir) / "outbox"), sent
