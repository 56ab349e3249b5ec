"""The demo's ideas and pilots: a few members' questions marked as ideas, endorsed by others
(one past the cohort's threshold, so the facilitators have one to decide on), and one made a
pilot with an owner and a first update, through the real services layer, so the pages'
Pilots sections and the ``pilots()`` widget have something to show."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from nbcohort.cohorts.models import Cohort, Member, Post, Thread, clock_at, utcnow
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import ServiceError
from nbcohort.cohorts.services.ideas import endorse_idea, idea_rules, mark_idea
from nbcohort.cohorts.services.pilots import make_pilot, update_pilot
from nbcohort.cohorts.store import Store

__all__ = ["DemoIdeas", "seed_ideas"]

_MEMBERS = ("learner", "champion")


@dataclass
class DemoIdeas:
    ideas: int
    endorsements: int
    pilots: int


def seed_ideas(store: Store, cohort_id: int, *, seed: int = 7) -> DemoIdeas:
    """Three ideas, their endorsements, and one pilot (see the module's docstring)."""
    rng = random.Random(seed)
    made = DemoIdeas(0, 0, 0)
    with clock_at(utcnow() - timedelta(days=3)), store.write() as s:
        cohort = s.get_one(Cohort, cohort_id)
        people = list(
            s.scalars(
                select(Member).where(
                    Member.cohort_id == cohort_id, Member.active, Member.role.in_(_MEMBERS)
                )
            )
        )
        facilitator = s.scalars(
            select(Member).where(Member.cohort_id == cohort_id, Member.role == "facilitator")
        ).first()
        posts = list(
            s.scalars(
                select(Post)
                .join(Thread, Thread.id == Post.thread_id)
                .join(Member, Member.id == Post.author_id)
                .where(
                    Thread.cohort_id == cohort_id,
                    Thread.kind == "section",
                    Post.parent_id.is_(None),
                    Post.deleted.is_(False),
                    Member.role.in_(_MEMBERS),
                )
                .order_by(Post.id)
            )
        )
        threshold = idea_rules(cohort).endorsements
        chosen = rng.sample(posts, min(3, len(posts)))
        for n, post in enumerate(chosen):
            author = s.get_one(Member, post.author_id)
            idea = mark_idea(s, Actor.of(author), post.id)
            made.ideas += 1
            others = [m for m in people if m.id != author.id]
            wanted = threshold if n == 0 else max(1, threshold - 2 - n)
            for member in rng.sample(others, min(wanted, len(others))):
                try:
                    endorse_idea(s, Actor.of(member), idea["id"])
                    made.endorsements += 1
                except ServiceError:
                    continue  # a member the rules keep from endorsing: fewer, not a failure
            if n == 1 and facilitator is not None:
                pilot = make_pilot(
                    s, Actor.of(facilitator), cohort, idea["id"], owner_id=author.id,
                    goal="Try it for two weeks on the team's own data",
                    measure="hours saved per week, as the team reports them",
                    review_on=(utcnow() + timedelta(days=18)).date().isoformat(),
                )  # fmt: skip
                update_pilot(
                    s, Actor.of(author), cohort, pilot["id"],
                    note="First week: two reports done this way; the checklist needs a step "
                    "for dates.",
                )  # fmt: skip
                made.pilots += 1
    return made
