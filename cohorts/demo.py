"""The demo cohort: a synthetic roster and a first week of discussion, made through the
services layer (the same code paths members use), never by inserting rows."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.services import posts
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohorts import create_cohort
from nbcohort.cohorts.services.roster import import_roster

__all__ = ["DEMO_SLUG", "DemoCohort", "demo_roster_csv", "seed_demo"]

DEMO_SLUG = "demo"
TEAMS = ("Finance", "Operations", "Marketing", "Research")
FIRST = ("Ana", "Ben", "Chiara", "Dmitri", "Emeka", "Fatima", "Gabriel", "Hana", "Ines", "Jonas",
         "Kavya", "Liam", "Mei", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sami", "Tomás",
         "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoe", "Noa", "Leila", "Kenji",
         "Maja")  # fmt: skip
LAST = ("Souza", "Okafor", "Rossi", "Ivanov", "Eze", "Haddad", "Silva", "Sato", "García", "Berg",
        "Iyer", "Walsh", "Chen", "Karimi", "Farouk", "Nair", "Lefèvre", "Díaz", "Mansour",
        "Novák", "Rao", "Petrov", "Li", "López", "Demir", "Müller", "Cohen", "Hosseini", "Mori",
        "Kowalski")  # fmt: skip
CHARTER = """\
**Why we are here.** We learn practical data analysis with pandas by doing it on our own work.

**How we work together.** Ask early: a question in a thread helps the next person too. Answer
with code others can run. Review a peer's work the way you would like yours reviewed.
Credit what you reuse. Disagree with ideas, never with people.

**Rhythm.** A micro-prompt every weekday, a live clinic on Thursdays, peer review in week 3."""

OPENERS = [
    ("module-1/loading-data", "Does anyone else get a `UnicodeDecodeError` on our sales export? "
     "`pd.read_csv(path, encoding='latin-1')` fixed it for me, but is that the right fix?"),
    ("module-1/loading-data", "Tip: `pd.read_csv(..., usecols=[...])` cut my load time in half "
     "on the 2 GB ledger."),
    ("module-1/selecting-rows", "When do you reach for `.loc` rather than boolean indexing "
     "directly? I keep mixing them up."),
    ("module-2/groupby", "Here is how I summarised support tickets per team:\n\n```python\n"
     "tickets.groupby('team')['hours'].agg(['count', 'median'])\n```"),
    ("module-2/merging", "My merge doubled the rows. Turned out the right table had duplicate "
     "keys: `validate='one_to_one'` would have caught it."),
    ("topic/at-work", "Applied the groupby pattern to our weekly stock report: 40 minutes of "
     "spreadsheet work is now one cell."),
]  # fmt: skip
REPLIES = [
    "Same here, thanks for posting the fix!",
    "`encoding='utf-8-sig'` worked for me when the file came from Excel.",
    "I think `.loc` is clearer when you also pick columns.",
    "Nice. You can add `.sort_values('median')` to spot the slow teams.",
    "Could you share the notebook? I'd like to reuse this for our team.",
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
        role = "instructor" if i == 0 else "facilitator" if i < 3 else (
            "champion" if i < 6 else "learner")  # fmt: skip
        team = "" if i < 3 else TEAMS[i % len(TEAMS)]
        email = f"{first.lower()}.{last.lower()}@example.org".encode("ascii", "ignore").decode()
        lines.append(f"{first} {last},{email},{team},{role},{rng.choice(zones)}")
    return "\n".join(lines) + "\n"


def seed_demo(session: Session, *, slug: str = DEMO_SLUG, seed: int = 7) -> DemoCohort:
    """Create the demo cohort with its roster and a first week of discussion."""
    system = Actor.system()
    start = date.today() - timedelta(days=7)
    cohort = create_cohort(
        session, system, slug, "Practical data analysis with pandas — demo cohort",
        course="pandas-practice", charter=CHARTER, starts_on=start,
        ends_on=start + timedelta(weeks=4),
    )  # fmt: skip
    import_roster(session, system, cohort, demo_roster_csv(seed=seed).encode(), filename="demo")
    members = list(
        session.scalars(select(Member).where(Member.cohort_id == cohort.id).order_by(Member.id))
    )
    rng = random.Random(seed)
    talkers = [m for m in members if m.role in ("learner", "champion")]
    for anchor, body in OPENERS:
        author = rng.choice(talkers)
        top = posts.create_post(session, Actor.of(author), cohort, anchor, body)
        for _ in range(rng.randint(0, 3)):
            replier = rng.choice([m for m in members if m.id != author.id])
            reply = posts.create_post(session, Actor.of(replier), cohort, anchor,
                                      rng.choice(REPLIES), parent_id=top.id)  # fmt: skip
            if rng.random() < 0.5:
                posts.react(session, Actor.of(author), reply.id, "helpful")
        for fan in rng.sample(members, rng.randint(1, 6)):
            if fan.id != author.id and fan.role != "sponsor":
                posts.react(session, Actor.of(fan), top.id, rng.choice(["+1", "insightful"]))
    return DemoCohort(cohort, members)
