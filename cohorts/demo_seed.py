"""The demo cohort: a synthetic roster and two weeks of plausible activity, replayed through
the services layer (the same code paths members use, on a moving clock), never as rows."""

from __future__ import annotations

import random
import unicodedata
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.course import CourseSpec
from nbcohort.cohorts.models import Cohort, Member, Post, Thread, clock_at, utcnow
from nbcohort.cohorts.services import artifacts, posts, practices, prompts, reactions, threads
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.community_directory import set_directory_opt_in
from nbcohort.cohorts.services.course_content import sync_course
from nbcohort.cohorts.services.errors import ServiceError
from nbcohort.cohorts.services.roster import import_roster
from nbcohort.cohorts.services.skills import set_directory_skills

__all__ = ["DEMO_SLUG", "DemoCohort", "demo_anchor", "demo_roster_csv", "seed_demo"]

DEMO_SLUG = "demo"
DAYS = 14
TEAMS = ("Finance", "Operations", "Marketing", "Research")
SKILLS = ("pandas", "SQL", "dashboards", "forecasting", "data cleaning")
# The first members of the roster, in order; everyone after them is a learner.
STAFF_ROLES = ("instructor", "facilitator", "facilitator", "champion", "champion", "champion")
# What a member does in one event: replies and reactions are twice as likely as the rest.
ACTIONS = ("post", "reply", "reply", "react", "react", "prompt", "applied")
# Demo names, one word each: kept as text so the roster reads as a few lines, not sixty.
_FIRST_NAMES = (
    "Ana Ben Chiara Dmitri Emeka Fatima Gabriel Hana Ines Jonas Kavya Liam Mei Nadia Omar "
    "Priya Quentin Rosa Sami Tomás Uma Viktor Wen Ximena Yusuf Zoe Noa Leila Kenji Maja"
)
_LAST_NAMES = (
    "Souza Okafor Rossi Ivanov Eze Haddad Silva Sato García Berg Iyer Walsh Chen Karimi Farouk "
    "Nair Lefèvre Díaz Mansour Novák Rao Petrov Li López Demir Müller Cohen Hosseini Mori Kowalski"
)
FIRST, LAST = tuple(_FIRST_NAMES.split()), tuple(_LAST_NAMES.split())
CHARTER = """\
**Why we are here.** We learn practical data analysis with pandas by doing it on our own work.

**How we work together.** Ask early: a question in a thread helps the next person too. Answer
with code others can run. Review a peer's work the way you would like yours reviewed.
Credit what you reuse. Disagree with ideas, never with people.

**Rhythm.** A micro-prompt every weekday, a live clinic on Thursdays, peer review in week 3."""

QUESTIONS = [
    "Does anyone else get a `UnicodeDecodeError` on our exports? `encoding='latin-1'` fixed it "
    "for me, but is that the right fix?",
    "When do you reach for `.loc` rather than plain boolean indexing? I keep mixing them up.",
    "My merge doubled the rows. How do I find out which keys are duplicated?",
    "Is there a way to see *why* a column came out as `object` instead of numbers?",
    "What's your rule of thumb for `groupby(...).agg` versus `pivot_table`?",
    "How do you keep a notebook readable when the cleaning steps pile up?",
    "Our dates come as `31/01/2026` and `2026-01-31` in the same column. Ideas?",
]
TIPS = [
    "Tip: `pd.read_csv(..., usecols=[...])` cut my load time in half on the big ledger.",
    "`df.info(memory_usage='deep')` showed me that one text column used 80% of the memory.",
    "Here is how I summarised tickets per team:\n\n```python\n"
    "tickets.groupby('team')['hours'].agg(['count', 'median'])\n```",
    "`validate='one_to_one'` in `merge` would have saved me an hour today.",
    "Chaining with `.pipe()` made my cleaning steps read like a recipe.",
    "`pd.to_datetime(col, format='mixed', dayfirst=True)` sorted out our date mess.",
]
REPLIES = [
    "Same here, thanks for posting the fix!",
    "`encoding='utf-8-sig'` worked for me when the file came from Excel.",
    "I think `.loc` is clearer as soon as you also pick columns.",
    "Nice. Add `.sort_values('median')` to spot the slow teams.",
    "Could you share the notebook? I'd like to reuse this for our team.",
    "`df[df.duplicated('key', keep=False)]` lists every duplicated key.",
    "We hit the same thing in Operations; this thread saved me.",
    "Try `pd.to_numeric(col, errors='coerce')` and look at what turns into NaN.",
]
ANSWERS = [
    "CSV exports from our ERP, usually with a broken encoding.",
    "Excel files with merged header cells, sadly.",
    "A weekly extract from the data warehouse, as Parquet.",
    "I spend most time reconciling two reports that should agree.",
    "Monthly close: the same pivot table rebuilt by hand every time.",
    "I'd like to automate the ticket backlog report for my team.",
]
APPLIED_NOTES = [
    "Used it on the supplier invoices this morning.",
    "Replaced a manual spreadsheet step in our weekly report.",
    "Showed it to my team lead; we now use it for the KPI deck.",
]


@dataclass
class DemoCohort:
    cohort: Cohort
    members: list[Member]


def demo_roster_csv(n: int = 30, seed: int = 7) -> str:
    """A synthetic roster: one instructor, two facilitators, three champions, learners."""
    rng = random.Random(seed)
    lines = ["name,email,team,role,timezone"]
    zones = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "Africa/Lagos", "UTC")
    for i in range(n):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        role = STAFF_ROLES[i] if i < len(STAFF_ROLES) else "learner"
        team = "" if i < 3 else TEAMS[i % len(TEAMS)]
        email = _ascii(f"{first}.{last}".lower()) + "@example.org"
        lines.append(f"{first} {last},{email},{team},{role},{rng.choice(zones)}")
    return "\n".join(lines) + "\n"


def _ascii(text: str) -> str:
    """``tomás.novák`` -> ``tomas.novak``: accents dropped, not the letters they sit on."""
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("ascii", "ignore").decode()


def demo_anchor(course: CourseSpec) -> str:
    """The thread the demo opens on: the first section of the first module."""
    for module in course.modules:
        if module.anchors and module.id.startswith("module-"):
            return module.anchors[0]
    return "topic/general"


def _activity_level(member: Member, rng: random.Random) -> float:
    """Expected actions a day: champions lead, many learners mostly read (lurking is learning)."""
    if member.role == "champion":
        return 2.5
    if member.role in ("facilitator", "instructor"):
        return 1.2
    return max(0.0, rng.lognormvariate(-0.9, 0.9)) if rng.random() > 0.25 else 0.0


def seed_demo(
    session: Session, course: CourseSpec, *, slug: str = DEMO_SLUG, seed: int = 7
) -> DemoCohort:
    """Create the demo cohort and replay two weeks of its life up to now."""
    system, rng = Actor.system(), random.Random(seed)
    counts = np.random.default_rng(seed)
    now = utcnow()
    start = now - timedelta(days=DAYS)
    with clock_at(start - timedelta(days=3)):
        cohort = create_cohort(
            session,
            system,
            slug,
            f"{course.title} — demo cohort",
            course=course.id,
            charter=CHARTER,
            starts_on=start.date(),
            ends_on=(start + timedelta(weeks=4)).date(),
        )
        import_roster(session, system, cohort, demo_roster_csv(seed=seed).encode(), filename="demo")
        sync_course(session, system, cohort, course)
    members = list(
        session.scalars(select(Member).where(Member.cohort_id == cohort.id).order_by(Member.id))
    )
    levels = {m.id: _activity_level(m, rng) for m in members if m.role != "sponsor"}
    weeks = [m.anchors for m in course.modules if m.anchors and m.id.startswith("module-")]
    weeks = weeks or [m.anchors for m in course.modules if m.anchors] or [("topic/general",)]
    events: list[tuple[datetime, Member, str]] = []
    for day in range(DAYS):
        midnight = datetime.combine((start + timedelta(days=day)).date(), time(0), tzinfo=UTC)
        for m in members:
            for _ in range(int(counts.poisson(levels.get(m.id, 0.0)))):
                at = midnight + timedelta(hours=rng.uniform(7, 19))
                if at < now:
                    events.append((at, m, rng.choice(ACTIONS)))
            if levels.get(m.id) == 0.0 and rng.random() < 0.5:
                events.append((midnight + timedelta(hours=12), m, "read"))
    events.sort(key=lambda e: e[0])
    facilitator = next(m for m in members if m.role == "facilitator")
    with clock_at(start + timedelta(hours=8)):
        for week in weeks:
            posts.create_post(
                session,
                Actor.of(facilitator),
                cohort,
                week[0],
                "Welcome! Ask here about anything in this section, however small: "
                "someone else is wondering too. Share code others can run.",
            )
    for at, member, kind in events:
        day = (at - start).days
        anchors = weeks[min(day // 7, len(weeks) - 1)]
        # The rules may refuse an action (reacting twice), as they would a member's: the
        # savepoint drops whatever that action had begun.
        with clock_at(at), suppress(ServiceError), session.begin_nested():
            _act(session, rng, cohort, member, kind, anchors, day, course)
    _share_some(session, cohort, members, start)
    for i, m in enumerate(members[::3]):  # a third chose to be listed in the directory
        set_directory_opt_in(session, Actor.of(m), m, True)
        set_directory_skills(session, Actor.of(m), m, list(SKILLS[i % 4 : i % 4 + 2]))
    return DemoCohort(cohort, members)


def _act(
    session: Session,
    rng: random.Random,
    cohort: Cohort,
    member: Member,
    kind: str,
    anchors: tuple[str, ...],
    day: int,
    course: CourseSpec,
) -> None:
    actor = Actor.of(member)
    anchor = rng.choice(anchors)
    recent = session.scalars(
        select(Post)
        .join(Thread)
        .where(
            Thread.cohort_id == cohort.id,
            Thread.kind != "prompt",
            Post.parent_id.is_(None),
            Post.deleted.is_(False),
        )
        .order_by(Post.id.desc())
        .limit(8)
    ).all()
    if kind == "reply" and recent:
        target = rng.choice(recent)
        anchor = session.get(Thread, target.thread_id).anchor  # type: ignore[union-attr]
        posts.create_post(session, actor, cohort, anchor, rng.choice(REPLIES), parent_id=target.id)
    elif kind == "react" and recent:
        target = rng.choice(recent)
        if target.author_id != member.id:
            reactions.react(session, actor, target.id, rng.choice(["helpful", "+1", "insightful"]))
    elif kind == "prompt" and course.prompts:
        key = f"day-{day + 1}"
        if key in course.prompts:
            prompts.answer_prompt(session, actor, cohort, key, rng.choice(ANSWERS))
    elif kind == "applied" and course.practices:
        practice = rng.choice(sorted(course.practices))
        practices.mark_applied(session, actor, cohort, practice, rng.choice(APPLIED_NOTES))
    elif kind == "read":
        for a in anchors:
            threads.mark_read(session, actor, cohort, a)
    else:
        body = rng.choice(QUESTIONS if rng.random() < 0.6 else TIPS)
        posts.create_post(session, actor, cohort, anchor, body)


def _share_some(session: Session, cohort: Cohort, members: list[Member], start: datetime) -> None:
    champions = [m for m in members if m.role == "champion"]
    shared = [
        (
            "ticket-summary.py",
            "Ticket summary per team",
            "import pandas as pd\n\ntickets = pd.read_csv('tickets.csv')\n"
            "print(tickets.groupby('team')['hours'].agg(['count', 'median']))\n",
        ),
        (
            "date-cleaning.py",
            "Cleaning mixed date formats",
            "import pandas as pd\n\ndef clean_dates(col):\n"
            "    return pd.to_datetime(col, format='mixed', dayfirst=True)\n",
        ),
    ]
    for i, (filename, title, code) in enumerate(shared):
        author = champions[i % len(champions)]
        with clock_at(start + timedelta(days=5 + i * 3, hours=10)):
            artifacts.share_artifact(
                session,
                Actor.of(author),
                cohort,
                filename=filename,
                content=code.encode(),
                title=title,
                description="Works on the course data; adapt the column names.",
                tags=["pandas", "snippet"],
            )
