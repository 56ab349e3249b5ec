"""The people and things the access-control matrix (tests/api/test_access_matrix.py) acts
with: one member per role in cohort A, a member of cohort B, a revoked and an unknown token,
and resources made on demand through the services layer (or the store, where no service
function makes them) for an owner in cohort A or B."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import (
    Allocation,
    Cohort,
    Event,
    Member,
    Notification,
    Review,
    ReviewRound,
    ReviewSubmission,
    utcnow,
)
from nbcohort.cohorts.services import appeals, artifacts, ideas, pilots, posts
from nbcohort.cohorts.services.auth import Actor, mint_token, revoke_tokens
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.services.moderation_hold import hold_post, reject_held
from nbcohort.cohorts.services.practices import sync_practices
from nbcohort.cohorts.services.prompts import sync_prompts
from nbcohort.cohorts.services.pulse import open_survey
from nbcohort.cohorts.store import Store
from tests.helpers import access_exchange

SYSTEM = Actor.system()
# Who calls. "reviewer" is a learner holding a live allocation; "outsider" a learner of
# cohort B; "anonymous" sends no token; "revoked" and "unknown" send tokens that are no good.
ROLES = ("learner", "reviewer", "champion", "facilitator", "instructor", "alumni", "sponsor",
         "outsider", "anonymous", "revoked", "unknown")  # fmt: skip
MEMBER_ROLES = ROLES[:8]
ANCHOR = "module-1/acl"


@dataclass
class World:
    """Cohort A (the round's) and cohort B, a member per role, and tokens."""

    store: Store
    cohort_a: int
    cohort_b: int
    members: dict[str, int]  # role -> member id ("other" owns another member's things in A,
    tokens: dict[str, str]  # "stranger" in B)
    round_a: int | None = None  # the open review round of cohort A, if any
    made: dict[str, int] = field(default_factory=dict)
    exchange_root: Path | None = None  # the service's exchange folder (access_exchange.py)
    slugs: dict[int, str] = field(default_factory=dict)  # cohort id -> slug (its course id)

    def header(self, role: str) -> dict[str, str]:
        token = self.tokens.get(role)
        return {"Authorization": f"token {token}"} if token else {}

    def make(self, kind: str, owner: str) -> int:
        """A new ``kind`` owned by ``owner`` (a role, "other" or "stranger"): its id."""
        with self.store.write() as s:
            member = s.get_one(Member, self.members[owner])
            cohort = s.get_one(Cohort, member.cohort_id)
            made = MAKERS[kind](self, s, Actor.of(member), cohort)
            s.flush()
            return made


def build_world(store: Store, cohort_id: int | None, reviewers: dict[str, int]) -> World:
    """Add the roles to cohort ``cohort_id`` (or a new cohort A), and cohort B.

    ``reviewers``: members of A who hold live allocations; the first is the "reviewer", the
    second "other" (whose things are another member's)."""
    with store.write() as s:
        if cohort_id is None:
            cohort_a = create_cohort(s, SYSTEM, "acl-a", "Access A")
        else:
            cohort_a = s.get_one(Cohort, cohort_id)
        cohort_b = create_cohort(s, SYSTEM, "acl-b", "Access B")
        s.flush()
        ids: dict[str, int] = {}
        people = [("learner", "Lea Learner", "learner", cohort_a),
                  ("champion", "Cam Champion", "champion", cohort_a),
                  ("facilitator", "Fay Facilitator", "facilitator", cohort_a),
                  ("instructor", "Ivo Instructor", "instructor", cohort_a),
                  ("alumni", "Alu Alumna", "alumni", cohort_a),
                  ("sponsor", "Sam Sponsor", "sponsor", cohort_a),
                  ("revoked", "Rev Oked", "learner", cohort_a),
                  ("outsider", "Oz Outsider", "learner", cohort_b),
                  ("stranger", "Bo Stranger", "learner", cohort_b)]  # fmt: skip
        if not reviewers:
            people += [("reviewer", "Rae Reviewer", "learner", cohort_a),
                       ("other", "Ola Other", "learner", cohort_a)]  # fmt: skip
        for key, name, role, cohort in people:
            username = f"acl{key}"
            member = add_member(s, SYSTEM, cohort, name=name, email=f"{username}@example.org",
                                role=role, username=username)  # fmt: skip
            s.flush()
            ids[key] = member.id
        if reviewers:
            ids["reviewer"], ids["other"] = list(reviewers.values())[:2]
        tokens = {key: mint_token(s, SYSTEM, s.get_one(Member, mid), "acl")
                  for key, mid in ids.items()}  # fmt: skip
        revoke_tokens(s, SYSTEM, s.get_one(Member, ids["revoked"]))
        tokens["unknown"] = "nbc_" + "x" * 40
        round_a = s.scalar(
            select(ReviewRound.id).where(
                ReviewRound.cohort_id == cohort_a.id, ReviewRound.status == "open"
            )
        )
        for cohort in (cohort_a, cohort_b):
            sync_prompts(s, SYSTEM, cohort, {"day-1": "What did you try today?"})
            sync_practices(s, SYSTEM, cohort, {"read-csv": "Read a CSV"})
            _round(s, cohort)
        # A post to reply to: a sponsor's "own" post is a reply (sponsors only reply).
        root = posts.create_post(s, Actor.of(s.get_one(Member, ids["other"])), cohort_a,
                                 ANCHOR, "the thread's first post")  # fmt: skip
        s.flush()
        world = World(store, cohort_a.id, cohort_b.id, ids, tokens, round_a)
        world.made["root"] = root.id
        return world


Maker = Callable[[World, Session, Actor, Cohort], int]


def _post(world: World, s: Session, actor: Actor, cohort: Cohort) -> int:
    parent = world.made["root"] if actor.role == "sponsor" else None
    if cohort.id != world.cohort_a:
        parent = None
    anchor = ANCHOR if parent else f"{ANCHOR}-{len(world.made)}"  # a thread each (pins)
    world.made[anchor] = 0
    post = posts.create_post(s, actor, cohort, anchor, f"a post by {actor.username}",
                             parent_id=parent)  # fmt: skip
    s.flush()
    return post.id


def _artifact(world: World, s: Session, actor: Actor, cohort: Cohort) -> int:
    art = artifacts.share_artifact(
        s, actor, cohort, filename="notes.md", content=f"# {actor.username}\n".encode(),
        title="Notes", description="", tags=["acl"],
    )  # fmt: skip
    s.flush()
    return art.id


def _held(world: World, s: Session, actor: Actor, cohort: Cohort) -> int:
    held = hold_post(s, actor, cohort, anchor=ANCHOR, kind=None, title="", parent_id=None,
                     text="held for approval", request_key=None)  # fmt: skip
    s.flush()
    return held.id


def _appeal(world: World, s: Session, actor: Actor, cohort: Cohort) -> int:
    held = reject_held(s, SYSTEM, _held(world, s, actor, cohort), "off topic")
    appeal = appeals.file_appeal(s, actor, cohort, "please look again", held_id=held.id)
    s.flush()
    return appeal.id


def _idea(world: World, s: Session, actor: Actor, cohort: Cohort) -> int:
    return int(ideas.mark_idea(s, actor, _post(world, s, actor, cohort))["id"])


def _pilot(world: World, s: Session, actor: Actor, cohort: Cohort) -> int:
    idea_id = _idea(world, s, actor, cohort)
    made = pilots.make_pilot(
        s, SYSTEM, cohort, idea_id, owner_id=actor.member_id, goal="a goal",
        measure="a measure", review_on=(utcnow() + timedelta(days=30)).date().isoformat(),
    )  # fmt: skip
    return int(made["id"])


def _event(world: World, s: Session, actor: Actor, cohort: Cohort) -> int:
    event = Event(cohort_id=cohort.id, kind="clinic", title="Clinic",
                  starts_at=utcnow() + timedelta(days=2))  # fmt: skip
    s.add(event)
    s.flush()
    return event.id


def _survey(world: World, s: Session, actor: Actor, cohort: Cohort) -> int:
    now = utcnow()
    survey = open_survey(
        s, cohort, f"pulse:acl-{now.timestamp()}", title="Pulse",
        questions=["Pace?", "Clarity?", "Support?"],
        free_text="Anything else?", opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=3), min_answers=1,
    )  # fmt: skip
    s.flush()
    return survey.id


def _member(world: World, s: Session, actor: Actor, cohort: Cohort) -> int:
    assert actor.member_id is not None
    return actor.member_id


def _round(s: Session, cohort: Cohort) -> ReviewRound:
    """The cohort's open round of project-1; cohort B's (or a store without one) made here,
    with no packets on disk."""
    found = s.scalar(
        select(ReviewRound).where(
            ReviewRound.cohort_id == cohort.id, ReviewRound.assignment == "project-1"
        )
    )
    if found is None:
        found = ReviewRound(cohort_id=cohort.id, assignment="project-1", reviewers_per_submission=1,
                            due_at=utcnow() + timedelta(days=7))  # fmt: skip
        s.add(found)
        s.flush()
    return found


def _allocation(world: World, s: Session, actor: Actor, cohort: Cohort) -> int:
    """An allocation the actor reviews: the round's own where it has one (real packets)."""
    rnd = _round(s, cohort)
    mine = s.scalar(
        select(Allocation.id)
        .where(
            Allocation.round_id == rnd.id,
            Allocation.reviewer_id == actor.member_id,
            Allocation.kind == "peer",
        )
        .order_by(Allocation.id)
    )
    if mine is not None:
        return mine
    sub = ReviewSubmission(round_id=rnd.id, author_id=actor.member_id, submitted_at=utcnow())
    s.add(sub)
    s.flush()
    alloc = Allocation(round_id=rnd.id, reviewer_id=actor.member_id, submission_id=sub.id)
    s.add(alloc)
    s.flush()
    return alloc.id


def _review(world: World, s: Session, actor: Actor, cohort: Cohort) -> int:
    """A submitted review of the actor's own work (the actor is its author)."""
    rnd = _round(s, cohort)
    sub = s.scalar(
        select(ReviewSubmission).where(
            ReviewSubmission.round_id == rnd.id, ReviewSubmission.author_id == actor.member_id
        )
    )
    if sub is None:
        sub = ReviewSubmission(round_id=rnd.id, author_id=actor.member_id, submitted_at=utcnow())
        s.add(sub)
        s.flush()
    taken = select(Allocation.reviewer_id).where(Allocation.submission_id == sub.id)
    reviewer = s.scalar(
        select(Member.id).where(
            Member.cohort_id == cohort.id, Member.id != actor.member_id, Member.id.not_in(taken)
        )
    )
    if reviewer is None:  # everyone reviews it already: one of those reviews, again
        return s.scalars(
            select(Review.id)
            .join(Allocation, Review.allocation_id == Allocation.id)
            .where(Allocation.submission_id == sub.id)
        ).first()  # type: ignore[return-value]
    alloc = Allocation(round_id=rnd.id, reviewer_id=reviewer, submission_id=sub.id,
                       status="submitted")  # fmt: skip
    s.add(alloc)
    s.flush()
    review = Review(allocation_id=alloc.id, scores={}, comments={}, draft=False,
                    submitted_at=utcnow())  # fmt: skip
    s.add(review)
    s.flush()
    return review.id


def _notification(world: World, s: Session, actor: Actor, cohort: Cohort) -> int:
    assert actor.member_id is not None
    note = Notification(member_id=actor.member_id, kind="mention",
                        post_id=_post(world, s, actor, cohort))  # fmt: skip
    s.add(note)
    s.flush()
    return note.id


MAKERS: dict[str, Maker] = {
    "post": _post,
    "artifact": _artifact,
    "held": _held,
    "appeal": _appeal,
    "idea": _idea,
    "pilot": _pilot,
    "event": _event,
    "survey": _survey,
    "member": _member,
    "allocation": _allocation,
    "review": _review,
    "notification": _notification,
    "submission": access_exchange.make_submission,
    "feedback": access_exchange.make_feedback,
}


def answer_text(resp: Any) -> str:
    """A short view of an answer for a failure message (an archive by its type and size)."""
    kind = resp.headers.get("Content-Type", "")
    if not kind.startswith("application/json"):
        return f"{resp.status_code} {kind or 'no type'}, {len(resp.content)} bytes"
    return f"{resp.status_code} {resp.text[:160]!r}"


__all__ = ["MAKERS", "MEMBER_ROLES", "ROLES", "World", "answer_text", "build_world"]
