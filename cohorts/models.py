"""Every table of the community store, in one module (the Alembic migrations mirror it).

Times are timezone-aware UTC. Member text is kept twice: the Markdown source the member wrote
and the sanitized HTML that pages show (see :mod:`nbcohort.cohorts.sanitize`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)

__all__ = [
    "SEARCHED_TABLES",
    "Activity",
    "Allocation",
    "ApiToken",
    "AppliedPractice",
    "Artifact",
    "ArtifactReuse",
    "BadgeAward",
    "BadgeCheck",
    "Base",
    "CadenceItem",
    "CharterAck",
    "CharterVersion",
    "Cohort",
    "Event",
    "EventSignup",
    "Flag",
    "Idea",
    "IdeaEndorsement",
    "Member",
    "Notification",
    "OnboardingStep",
    "OutboxMessage",
    "Pilot",
    "PilotUpdate",
    "Post",
    "PostPin",
    "Practice",
    "Prompt",
    "PulseAnswer",
    "PulseResponse",
    "PulseSurvey",
    "Reaction",
    "ReadMark",
    "Review",
    "ReviewRound",
    "ReviewSubmission",
    "Rubric",
    "Spotlight",
    "Thread",
    "clock_at",
    "compared_with_models",
    "guard_activity_log",
    "is_search_index",
    "utcnow",
]

# Deterministic constraint names, so migrations can name what they alter on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


_clock: ContextVar[datetime | None] = ContextVar("nbcohort_clock", default=None)


def utcnow() -> datetime:
    """Now, timezone-aware UTC: the only clock the store and the services layer read."""
    fixed = _clock.get()
    return fixed if fixed is not None else datetime.now(UTC)


@contextmanager
def clock_at(when: datetime) -> Iterator[None]:
    """Run services as if it were ``when`` (the demo replays two weeks of activity with it)."""
    if when.tzinfo is None:
        raise ValueError("clock_at needs an aware datetime")
    token = _clock.set(when.astimezone(UTC))
    try:
        yield
    finally:
        _clock.reset(token)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in and out, on SQLite (which drops the zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use models.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class Cohort(Base):
    __tablename__ = "cohort"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    course: Mapped[str] = mapped_column(String(200), default="")
    charter: Mapped[str] = mapped_column(Text, default="")
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Graduation (migration 0013, services/graduation.py): the community of practice the
    # cohort graduated into, and when. Cohorts naming the same community share its topics.
    community: Mapped[str | None] = mapped_column(String(64), index=True)
    graduated_at: Mapped[datetime | None] = mapped_column()


class Member(Base):
    __tablename__ = "member"
    __table_args__ = (
        UniqueConstraint("cohort_id", "email"),
        UniqueConstraint("cohort_id", "username"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))  # None: in the notebook only
    role: Mapped[str] = mapped_column(String(16), default="learner")
    team: Mapped[str] = mapped_column(String(100), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Email the member wants: all, digest (only the digest of what they missed) or none.
    email_pref: Mapped[str] = mapped_column(String(8), default="all", server_default="all")
    last_seen_at: Mapped[datetime | None] = mapped_column()  # their last request to the service
    # Recognition (migration 0010): the member hides their badges from others; the member
    # asks never to be suggested as a champion.
    badges_hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    champion_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The community's member directory lists a member only once they choose to appear
    # (migration 0017; services/community_directory.py).
    directory_opt_in: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Skills they show there, a short list of tags (migration 0019; services/skills.py).
    directory_skills: Mapped[list[str] | None] = mapped_column(JSON, default=list)  # None: []
    # Signed into the member's calendar feed link (migration 0023; services/calendar_link.py):
    # the member bumps it to get a new link, and the old one stops working.
    calendar_link_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When they left (services/leaving.py): their name and email are gone from the row, and
    # every view of them says "former member"; the username stays for nbgrader's gradebook.
    left_at: Mapped[datetime | None] = mapped_column()
    cohort: Mapped[Cohort] = relationship()


class ApiToken(Base):
    """A member's API token; only its SHA-256 is stored."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    member: Mapped[Member] = relationship()


class Thread(Base):
    """A discussion anchored to a course location (``module-2/section-3``) or a topic."""

    __tablename__ = "thread"
    __table_args__ = (UniqueConstraint("cohort_id", "anchor"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    anchor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="section")  # section | topic | prompt
    title: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Kept by database triggers (migration 0004), never by the code: bumped whenever a post,
    # a reaction or an author's profile on the thread's pages changes. Page caches compare it.
    # Derived, so archives leave it out.
    version: Mapped[int] = mapped_column(default=0, server_default="0", info={"derived": True})


class Post(Base):
    __tablename__ = "post"
    __table_args__ = (
        Index("ix_post_thread_parent_id", "thread_id", "parent_id", "id"),
        # An index, not a constraint: SQLite adds it without rebuilding the table.
        Index("uq_post_author_id_request_key", "author_id", "request_key", unique=True),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("thread.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"))
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column()
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_reason: Mapped[str] = mapped_column(String(500), default="")
    # The author's client names each new post once (an idempotency key): sending it again
    # after a lost answer finds this post instead of writing a second one.
    request_key: Mapped[str | None] = mapped_column(String(64))
    author: Mapped[Member] = relationship()


class Reaction(Base):
    __tablename__ = "reaction"
    __table_args__ = (UniqueConstraint("post_id", "member_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Flag(Base):
    __tablename__ = "flag"
    __table_args__ = (UniqueConstraint("post_id", "member_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))


class ReadMark(Base):
    """That a member read a thread up to a post. Private: never shown per person."""

    __tablename__ = "read_mark"
    __table_args__ = (UniqueConstraint("thread_id", "member_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("thread.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    last_post_id: Mapped[int] = mapped_column(Integer, default=0)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)


class Artifact(Base):
    """A shared notebook, script or file in the cohort's artifact library."""

    __tablename__ = "artifact"
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    license: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(32), default="share")  # share | review
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    author: Mapped[Member] = relationship()


class ArtifactReuse(Base):
    """Someone other than the author took a copy: one row per member and artifact, however
    many copies they take (the reuse rate must not be a number a member can inflate)."""

    __tablename__ = "artifact_reuse"
    __table_args__ = (
        Index("uq_artifact_reuse_artifact_id_member_id", "artifact_id", "member_id", unique=True),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifact.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Rubric(Base):
    __tablename__ = "rubric"
    __table_args__ = (UniqueConstraint("cohort_id", "assignment", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    assignment: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class ReviewRound(Base):
    """A peer-review round on one nbgrader assignment; rubric and settings are snapshots."""

    __tablename__ = "review_round"
    __table_args__ = (UniqueConstraint("cohort_id", "assignment"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    assignment: Mapped[str] = mapped_column(String(100))
    rubric_id: Mapped[int | None] = mapped_column(ForeignKey("rubric.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    reviewers_per_submission: Mapped[int] = mapped_column(Integer, default=3)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column()
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    folder: Mapped[str] = mapped_column(String(500), default="")  # snapshots and packets
    rubric: Mapped[Rubric | None] = relationship()


class ReviewSubmission(Base):
    """One author's snapshotted submission in a round (or an instructor's calibration item,
    which has no author and known scores); ``result`` holds the aggregated scores."""

    __tablename__ = "review_submission"
    __table_args__ = (UniqueConstraint("round_id", "author_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("review_round.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="peer")  # peer | calibration
    snapshot: Mapped[str] = mapped_column(String(500), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    submitted_at: Mapped[datetime | None] = mapped_column()
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    known_scores: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    override: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    artifact_id: Mapped[int | None] = mapped_column(ForeignKey("artifact.id", ondelete="SET NULL"))
    author: Mapped[Member | None] = relationship()


class Allocation(Base):
    """One reviewer assigned to one submission; ``packet`` names the anonymized copy."""

    __tablename__ = "allocation"
    __table_args__ = (UniqueConstraint("round_id", "reviewer_id", "submission_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("review_round.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("review_submission.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16), default="peer")  # peer | self | calibration
    packet: Mapped[str] = mapped_column(String(500), default="")
    # assigned | submitted | reassigned (moved to another reviewer) | withdrawn
    status: Mapped[str] = mapped_column(String(16), default="assigned")
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column()  # a reassignment's own due date
    submission: Mapped[ReviewSubmission] = relationship()
    reviewer: Mapped[Member] = relationship()


class Review(Base):
    __tablename__ = "review"
    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(
        ForeignKey("allocation.id", ondelete="CASCADE"), unique=True
    )
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    comments: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    overall_comment: Mapped[str] = mapped_column(Text, default="")
    draft: Mapped[bool] = mapped_column(Boolean, default=True)
    submitted_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    helpfulness: Mapped[int | None] = mapped_column(Integer)
    allocation: Mapped[Allocation] = relationship()


class Event(Base):
    """A calendar entry: a clinic, a routine, a deadline. ``key`` names an event something
    else made (a cadence item, a review round's due date), so making it again finds it."""

    __tablename__ = "event"
    __table_args__ = (Index("uq_event_cohort_id_key", "cohort_id", "key", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="clinic")
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()
    rrule: Mapped[str] = mapped_column(String(200), default="")
    location: Mapped[str] = mapped_column(String(500), default="")
    key: Mapped[str | None] = mapped_column(String(200))
    anchor: Mapped[str | None] = mapped_column(String(200))  # the thread it is discussed in


class EventSignup(Base):
    """A member's sign-up for an event (a clinic)."""

    __tablename__ = "event_signup"
    __table_args__ = (UniqueConstraint("event_id", "member_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Prompt(Base):
    """A micro-prompt, keyed like ``day-3``; answers are posts in the prompt's thread."""

    __tablename__ = "prompt"
    __table_args__ = (UniqueConstraint("cohort_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    opens_at: Mapped[datetime | None] = mapped_column()
    show_answers_before_answering: Mapped[bool] = mapped_column(Boolean, default=False)


class Notification(Base):
    """Something a member should see: a mention of them, a reply to their post."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_member_read", "member_id", "read_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # mention | reply | review... | onboarding
    post_id: Mapped[int | None] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column()
    # What a notification without a post points at (an assignment, a step, a routine).
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class CharterVersion(Base):
    """One published version of the cohort's charter (Markdown); members see what changed."""

    __tablename__ = "charter_version"
    __table_args__ = (UniqueConstraint("cohort_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    body_md: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(500), default="")  # what changed, in words
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))


class CharterAck(Base):
    """A member acknowledged a version of the charter (onboarding asks for it)."""

    __tablename__ = "charter_ack"
    __table_args__ = (UniqueConstraint("member_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    acked_at: Mapped[datetime] = mapped_column(default=utcnow)


class CadenceItem(Base):
    """One thing the cohort's rhythm publishes at a time: a day's micro-prompt, a routine, a
    weekly highlights digest, a clinic. The row is the plan (``key`` names it: what and
    when); publishing it is one transaction that also marks it published, so ticks that
    overlap or die halfway never publish it twice."""

    __tablename__ = "cadence_item"
    __table_args__ = (
        UniqueConstraint("cohort_id", "key"),
        Index("ix_cadence_item_state_due_at", "state", "due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))  # prompt | routine | highlights | clinic
    title: Mapped[str] = mapped_column(String(200), default="")
    due_at: Mapped[datetime] = mapped_column()
    # planned | published | missed (a routine or highlights post long past its time)
    state: Mapped[str] = mapped_column(String(16), default="planned")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    published_at: Mapped[datetime | None] = mapped_column()


class OnboardingStep(Base):
    """Where a member is in the onboarding sequence: a step sent, skipped (already done
    before it came) or done."""

    __tablename__ = "onboarding_step"
    __table_args__ = (UniqueConstraint("member_id", "step"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(64))
    # sent | skipped (done before it came) | done | stopped (a contributor) | missed (late)
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """An email to send. Everything about it, its Message-ID included, is decided before
    the first attempt; ``dedupe_key`` says which message it is (a member's digest of one
    week, an onboarding step), so it is queued once and sent at most once."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        UniqueConstraint("message_id"),
        Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[str] = mapped_column(String(200))
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class Practice(Base):
    """A practice the course asks members to apply at work (course.toml's [practices]):
    "I applied this" is accepted for these keys only."""

    __tablename__ = "practice"
    __table_args__ = (UniqueConstraint("cohort_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200), default="")


class AppliedPractice(Base):
    """A member's "I applied this at work": the event behind time-to-apply."""

    __tablename__ = "applied_practice"
    __table_args__ = (UniqueConstraint("member_id", "practice"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    practice: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BadgeAward(Base):
    """A badge a member earned, once: the unique (member, badge) decides, so two awarders at
    once never award it twice. A revoked award keeps its row (with who revoked it and why),
    so a later backfill does not award it again."""

    __tablename__ = "badge_award"
    __table_args__ = (UniqueConstraint("member_id", "badge"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    badge: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500), default="")
    awarded_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    awarded_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    revoke_reason: Mapped[str] = mapped_column(String(500), default="")


class BadgeCheck(Base):
    """How far the badge rules have read a cohort's activity log, and under which rules:
    the tick evaluates again only when the log grew or the rules changed."""

    __tablename__ = "badge_check"
    cohort_id: Mapped[int] = mapped_column(
        ForeignKey("cohort.id", ondelete="CASCADE"), primary_key=True
    )
    activity_upto: Mapped[int] = mapped_column(Integer, default=0)
    rules_sha: Mapped[str] = mapped_column(String(64), default="")
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


class Spotlight(Base):
    """One week's spotlight of repeat contributors: drafted by the rule, editable by a
    facilitator until it goes out with the weekly highlights."""

    __tablename__ = "spotlight"
    __table_args__ = (UniqueConstraint("cohort_id", "week"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    week: Mapped[date] = mapped_column(Date)  # the Monday the week starts on
    member_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    reasons: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # member id -> line
    note: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="draft")  # draft | edited | published
    edited_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column()


class PostPin(Base):
    """A post a champion or facilitator pinned to the top of its thread."""

    __tablename__ = "post_pin"
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"), unique=True)
    pinned_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    pinned_at: Mapped[datetime] = mapped_column(default=utcnow)


class PulseSurvey(Base):
    """One run of the cohort's pulse survey (the cadence opens it from the cohort file):
    three to five Likert questions (1-5) and one free-text question."""

    __tablename__ = "pulse_survey"
    __table_args__ = (UniqueConstraint("cohort_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))  # pulse:2027-03-05
    title: Mapped[str] = mapped_column(String(200), default="Pulse survey")
    questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    free_text: Mapped[str] = mapped_column(String(500), default="")
    opens_at: Mapped[datetime] = mapped_column()
    closes_at: Mapped[datetime] = mapped_column()
    min_answers: Mapped[int] = mapped_column(Integer, default=5)


class PulseResponse(Base):
    """That a member answered a survey, and when; never what they answered."""

    __tablename__ = "pulse_response"
    __table_args__ = (UniqueConstraint("survey_id", "member_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("pulse_survey.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class PulseAnswer(Base):
    """What one member answered, kept apart from who: no member, no time, and a random key
    (not a sequence), so no row can be matched to a PulseResponse."""

    __tablename__ = "pulse_answer"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    survey_id: Mapped[int] = mapped_column(
        ForeignKey("pulse_survey.id", ondelete="CASCADE"), index=True
    )
    scores: Mapped[list[int]] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(Text, default="")


class HeldPost(Base):
    """A new member's post waiting for a champion's or facilitator's approval
    (services/moderation_hold.py). Kept apart from ``post`` until it is approved, so no path
    that reads posts (thread pages and lists, counts, search, live updates, digests, metrics,
    exports) can see it; approving writes it as a post through the one posting path."""

    __tablename__ = "held_post"
    __table_args__ = (
        Index("ix_held_post_cohort_id_status", "cohort_id", "status"),
        Index("uq_held_post_author_id_request_key", "author_id", "request_key", unique=True),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    anchor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(16))  # the thread kind it would create
    title: Mapped[str] = mapped_column(String(200), default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"))
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    request_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="held")  # held|approved|rejected
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    reason_html: Mapped[str] = mapped_column(Text, default="")  # a rejection's, sanitized
    post_id: Mapped[int | None] = mapped_column(ForeignKey("post.id", ondelete="SET NULL"))


class Appeal(Base):
    """A member's one appeal against a moderation decision about their own post: removed or
    hidden, flagged, or held and rejected (``subject``: ``post:<id>`` or ``held:<id>``,
    unique, so a second appeal is refused by the database too). Staff answer it with a
    reason the member reads."""

    __tablename__ = "appeal"
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(32), unique=True)
    post_id: Mapped[int | None] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"))
    held_id: Mapped[int | None] = mapped_column(ForeignKey("held_post.id", ondelete="CASCADE"))
    body_html: Mapped[str] = mapped_column(Text)  # the member's text, sanitized
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|granted|denied
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    answer_html: Mapped[str] = mapped_column(Text, default="")


class ExchangeFile(Base):
    """One archive in the nbgrader exchange as a service (services/exchange*.py): a released
    assignment, a learner's submission, the feedback on one, or a review round's anonymized
    packet (``packet``: its folder name, as ``Allocation.packet`` ends). The archive itself is a
    file under the service's exchange folder (``blob``), published by rename in the same unit of
    work that adds this row, so a row always has its whole file. Times are the service's
    clock; a learner's submissions of one assignment have strictly increasing times."""

    __tablename__ = "exchange_file"
    __table_args__ = (
        Index("ix_exchange_file_cohort_id_kind_assignment", "cohort_id", "kind", "assignment"),
        Index("ix_exchange_file_cohort_id_packet", "cohort_id", "packet", unique=True),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # release | submission | feedback | packet
    assignment: Mapped[str] = mapped_column(String(100))
    member_id: Mapped[int | None] = mapped_column(  # the learner (submission, feedback)
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    submission_id: Mapped[int | None] = mapped_column(  # feedback: the submission it is on
        ForeignKey("exchange_file.id", ondelete="CASCADE")
    )
    packet: Mapped[str | None] = mapped_column(String(160))  # packet: its code in the round
    blob: Mapped[str] = mapped_column(String(80), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    notebooks: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    # A submission its learner removed from their own list (nbgrader list --cached --remove):
    # gone from their list and their feedback, still listed and collected by staff.
    removed_at: Mapped[datetime | None] = mapped_column()


class ExchangeBlobChunk(Base):
    """One piece (``seq`` from 0, 1 MiB each but the last) of an exchange archive kept in the
    database (``ExchangeSettings.store = 'database'``, services/exchange_blobs.py), so service
    replicas share no folder. Written in the unit of work that adds its ``exchange_file`` row
    and gone with it (the foreign key cascades)."""

    __tablename__ = "exchange_blob_chunk"
    blob: Mapped[str] = mapped_column(
        ForeignKey("exchange_file.blob", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Idea(Base):
    """A post marked as an idea (by its author or a champion), on its way to a pilot: open
    while members endorse it, escalated to the facilitators at the cohort file's threshold,
    then piloted or declined (with a reason its author sees)."""

    __tablename__ = "idea"
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"), index=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"), unique=True)
    marked_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(
        String(16), default="open"
    )  # open|escalated|piloted|declined
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    escalated_at: Mapped[datetime | None] = mapped_column()
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decline_reason: Mapped[str] = mapped_column(String(1000), default="")


class IdeaEndorsement(Base):
    """A member's endorsement of an idea: once each, which the unique key enforces."""

    __tablename__ = "idea_endorsement"
    __table_args__ = (UniqueConstraint("idea_id", "member_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("idea.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Pilot(Base):
    """An idea a facilitator turned into a pilot: an owner, a goal, a measure and a review
    date; status updates until its outcome. One pilot per idea (the unique key)."""

    __tablename__ = "pilot"
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"), index=True)
    idea_id: Mapped[int | None] = mapped_column(
        ForeignKey("idea.id", ondelete="SET NULL"), unique=True
    )
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    goal: Mapped[str] = mapped_column(Text)
    measure: Mapped[str] = mapped_column(Text)
    review_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | done | stopped
    outcome: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PilotUpdate(Base):
    """A status update on a pilot, by its owner or staff (Markdown, sanitized)."""

    __tablename__ = "pilot_update"
    id: Mapped[int] = mapped_column(primary_key=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16))
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Activity(Base):
    """Append-only log of every write: the single source of every metric."""

    __tablename__ = "activity"
    __table_args__ = (
        Index("ix_activity_cohort_at", "cohort_id", "at"),
        # whether a member did something in a span of time is one seek (metrics/log.py)
        Index("ix_activity_cohort_verb_member_at", "cohort_id", "verb", "member_id", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    verb: Mapped[str] = mapped_column(String(48))
    object_type: Mapped[str] = mapped_column(String(32), default="")
    object_id: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class FailedLogin(Base):
    """One failed token attempt from a client address (``api/throttle.py``): shared by every
    service process, so replicas count an address's tries together. Rows leave the table once
    they are older than ``ServiceSettings.failed_auth_window``."""

    __tablename__ = "failed_login"
    __table_args__ = (Index("ix_failed_login_address_at", "address", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class KnownToken(Base):
    """A token (its SHA-256 digest, as ``api_token`` keeps them) that was valid lately
    (``api/throttle_known.py``): from an address the failed-login throttle refuses, it still
    gets in, on every service process, not only on those that saw it valid. Rows leave the
    table once ``until`` has passed."""

    __tablename__ = "known_token"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    until: Mapped[datetime] = mapped_column(index=True)


# The search index is the database's own (migration 0009): FTS5 tables named ``search_<table>``
# (with the shadow tables FTS5 keeps beside them) on SQLite; a generated ``search_terms``
# column and its GIN index ``ix_<table>_search_terms`` on PostgreSQL. No model reads or writes
# them, so comparisons of the models with a database (Alembic autogenerate, the store's
# tests) leave out exactly what this names.
SEARCHED_TABLES = ("post", "thread", "artifact")


def is_search_index(name: str | None, type_: str) -> bool:
    """Whether the schema object ``name`` of kind ``type_`` (Alembic's words: table, column,
    index) is part of the search index the database keeps."""
    if not name:
        return False
    if type_ == "table":
        return any(name.startswith(f"search_{t}") for t in SEARCHED_TABLES)
    if type_ == "column":
        return name == "search_terms"
    if type_ == "index":
        return name in {f"ix_{t}_search_terms" for t in SEARCHED_TABLES}
    return False


def compared_with_models(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's ``include_object`` hook: a database object no model maps is compared (and
    reported) unless it belongs to the search index."""
    return not (reflected and compare_to is None and is_search_index(name, type_))


def _no_bulk_rewrite_of_activity(state: Any) -> None:
    """The same rule for bulk ``update(Activity)`` / ``delete(Activity)`` statements."""
    if (state.is_update or state.is_delete) and any(
        m.class_ is Activity for m in state.all_mappers
    ):
        raise ValueError("the activity log is append-only")


def _activity_is_append_only(session: Session, _ctx: Any, _instances: Any) -> None:
    """Refuse any change to a logged activity: metrics must be reproducible from the log."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, Activity) and (obj in session.deleted or session.is_modified(obj)):
            raise ValueError("the activity log is append-only")


def guard_activity_log(factory: sessionmaker[Session]) -> None:
    """Make the activity log append-only in the sessions ``factory`` makes (the store's own,
    not every Session in the process: nbgrader's gradebook has its sessions too)."""
    event.listen(factory, "do_orm_execute", _no_bulk_rewrite_of_activity)
    event.listen(factory, "before_flush", _activity_is_append_only)
