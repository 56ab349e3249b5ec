"""What each route accepts: request bodies and query strings declared as pydantic models, and
checked before any work is done. A wrong type, a missing field or a number out of range is a
422 that names the field; the services layer then applies the community's rules (lengths set
in config, anchors, rubric levels) to values of the right shape.

Bodies are strict JSON (``"5"`` is not a number, ``true`` is not an id); query strings are
text, so there numbers are parsed. Unknown fields are ignored, so older clients keep working.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from nbcohort.cohorts.services.search import MAX_LIMIT, MAX_QUERY_CHARS

__all__ = [
    "ID_MAX",
    "WATCH_MAX_THREADS",
    "AnchorRead",
    "Answer",
    "AppealBody",
    "AppealDecision",
    "BadgeRevoke",
    "BadgesQuery",
    "ChampionsQuery",
    "CharterAckBody",
    "CommunityLibraryQuery",
    "CommunityMembersQuery",
    "CourseThreadQuery",
    "DashboardQuery",
    "DaysQuery",
    "DirectoryPref",
    "EmailPref",
    "GraduateBody",
    "HeldReject",
    "Helpfulness",
    "LeaveBody",
    "MetricsQuery",
    "Moderation",
    "NewArtifact",
    "NewPost",
    "NewTopic",
    "NotificationsQuery",
    "NotificationsRead",
    "PinsQuery",
    "PostEdit",
    "PracticeNote",
    "PreviewDraft",
    "PromptQuery",
    "Publish",
    "PulseAnswerBody",
    "Reason",
    "RecognitionPrefs",
    "ReviewDraft",
    "RoutineKey",
    "SearchQuery",
    "SpotlightEdit",
    "SpotlightQuery",
    "TagQuery",
    "ThreadQuery",
    "ThreadsQuery",
    "TopicPost",
    "TopicQuery",
    "Watch",
]

# Ids are INTEGER columns: PostgreSQL's is 32 bits, so no id beyond this exists anywhere.
ID_MAX = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=ID_MAX)]
# Generous ceilings on shape only; the community's own limits (max_post_chars...) are rules.
_TEXT = 1_000_000
Text = Annotated[str, Field(max_length=_TEXT)]
Short = Annotated[str, Field(max_length=1000)]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AnchorRead(_Body):
    anchor: Short


class NewPost(_Body):
    anchor: Short
    body: Text
    parent_id: Id | None = None
    title: Short = ""
    request_key: Short | None = None


class PostEdit(_Body):
    body: Text


class Reason(_Body):
    reason: Short = ""


class Moderation(_Body):
    action: Literal["hide", "restore"]
    reason: Short


class Answer(_Body):
    body: Text


class PracticeNote(_Body):
    note: Text = ""


class NewArtifact(_Body):
    filename: Short
    content_b64: str  # as long as the body allows (ServiceSettings.max_body_bytes)
    title: Short
    description: Text = ""
    tags: list[Short] | Short | None = None
    license: Short | None = None  # None: the cohort's first license


class ReviewDraft(_Body):
    scores: dict[Short, int | float | None] = Field(default_factory=dict)
    comments: dict[Short, Text] | None = None
    overall_comment: Text = ""
    submit: bool = False


class Helpfulness(_Body):
    helpfulness: int


class Publish(_Body):
    consent: bool = False
    title: Short
    description: Text = ""
    tags: list[Short] | Short | None = None
    license: Short | None = None


class ThreadQuery(_Query):
    anchor: Short
    before: Id | None = None
    limit: Annotated[int, Field(ge=1, le=200)] | None = None
    unread: bool = False  # also count the posts the reader has not read


class PromptQuery(_Query):
    before: Id | None = None


class TagQuery(_Query):
    tag: Short | None = None


class CharterAckBody(_Body):
    version: Id


class DaysQuery(_Query):
    days: Annotated[int, Field(ge=1, le=366)] | None = None


class NotificationsQuery(_Query):
    all: Literal["", "0", "1", "false", "true"] = ""
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    kind: Annotated[str, Field(max_length=32)] | None = None


class NotificationsRead(_Body):
    ids: Annotated[list[Id], Field(max_length=500)] | None = None  # None: all of them


class EmailPref(_Body):
    email_pref: Literal["all", "digest", "none"]


class RecognitionPrefs(_Body):
    badges_hidden: bool | None = None
    champion_opt_out: bool | None = None


class BadgeRevoke(_Body):
    member_id: Id
    badge: Annotated[str, Field(min_length=1, max_length=64)]
    reason: Short


class BadgesQuery(_Query):
    members: Annotated[str, Field(pattern=r"^[0-9]{1,10}(,[0-9]{1,10}){0,499}$")] | None = None


class ChampionsQuery(_Query):
    count: Annotated[int, Field(ge=1, le=100)] = 12


class SpotlightQuery(_Query):
    week: date  # the Monday of the highlights' week


class SpotlightEdit(_Body):
    week: Annotated[date, Field(strict=False)]  # JSON has no dates: "2026-03-02"
    member_ids: Annotated[list[Id], Field(max_length=10)]
    note: Short = ""


class PinsQuery(_Query):
    anchor: Short


class RoutineKey(_Body):
    key: Annotated[str, Field(min_length=1, max_length=200)]


class SearchQuery(_Query):
    q: Annotated[str, Field(max_length=MAX_QUERY_CHARS)]  # empty: the service says so
    kind: Literal["post", "thread", "artifact"] | None = None  # None: every kind
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] | None = None


class MetricsQuery(_Query):
    # Days, in whole weeks as the trend is: windows a day apart would differ by one day's
    # acts, and tell on the one member who acted that day. None: the setting.
    window: Annotated[int, Field(ge=7, le=364, multiple_of=7)] | None = None


WATCH_MAX_THREADS = 50  # a notebook's discussions; a course notebook has a handful


class Watch(_Body):
    """A live widget's marks (``services/live.py``): answered when one changes, or empty
    after ``wait`` seconds (the service caps it at ``LiveSettings.max_wait_seconds``)."""

    threads: Annotated[
        dict[Annotated[str, Field(max_length=200)], Annotated[int, Field(ge=0, le=ID_MAX)]],
        Field(max_length=WATCH_MAX_THREADS),
    ] = Field(default_factory=dict)
    notifications: Annotated[str, Field(max_length=24, pattern=r"^\d{1,10}:\d{1,10}$")] | None = (
        None
    )
    wait: Annotated[float, Field(ge=0, le=60, allow_inf_nan=False)] = 25.0


class ThreadsQuery(_Query):
    days: Annotated[int, Field(ge=1, le=366)] = 7
    limit: Annotated[int, Field(ge=1, le=100)] = 10


class DashboardQuery(_Query):
    # Whole weeks only: spans a day apart, asked side by side, would tell staff the day each
    # member was last active, and that may be a read (never shown per person).
    quiet_days: Annotated[int, Field(ge=7, le=91, multiple_of=7)] = 7
    unanswered_hours: Annotated[int, Field(ge=1, le=720)] = 48


class LeaveBody(_Body):
    confirm: Literal["leave"]  # typed by the member: leaving is not undone
    reason: Short = ""


class PulseAnswerBody(_Body):
    scores: Annotated[list[Annotated[int, Field(ge=1, le=5)]], Field(min_length=1, max_length=5)]
    text: Annotated[str, Field(max_length=2000)] = ""


class HeldReject(_Body):
    reason: Short  # the author reads it; the services layer requires it and sanitizes it


class AppealBody(_Body):
    post_id: Id | None = None  # a post removed, hidden or flagged
    held_id: Id | None = None  # or a held post that was not approved
    text: Short


class AppealDecision(_Body):
    decision: Literal["grant", "deny"]
    reason: Short


class NewTopic(_Body):
    name: Short
    title: Short
    body: Text


class TopicPost(_Body):
    body: Text
    parent_id: Id | None = None
    request_key: Short | None = None


class TopicQuery(_Query):
    before: Id | None = None
    limit: Annotated[int, Field(ge=1, le=200)] | None = None


class CourseThreadQuery(_Query):
    cohort: Short
    anchor: Short | None = None  # none: the list of that cohort's course threads
    before: Id | None = None
    limit: Annotated[int, Field(ge=1, le=200)] | None = None


class GraduateBody(_Body):
    dry_run: bool = False


class CommunityLibraryQuery(_Query):
    q: Short | None = None  # matched literally; the service bounds its length
    tag: Short | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100


class CommunityMembersQuery(_Query):
    q: Short | None = None  # a name or team, matched literally
    page: Annotated[int, Field(ge=1, le=100_000)] = 1
    per_page: Annotated[int, Field(ge=1, le=200)] = 50
    skill: Short | None = None  # one skill, whole, any case (services/skills.py)


class DirectoryPref(_Body):
    """PUT /me/directory: whether the community's member directory lists me."""

    directory_opt_in: bool


class PreviewDraft(_Body):
    """POST /preview: a draft, and the thread it is for (its mentions resolve as there)."""

    body: Text
    anchor: Short | None = None


class DirectorySkills(_Body):
    """PUT /me/directory/skills: the skills the directory shows of me (services/skills.py
    bounds them and says what is wrong)."""

    skills: list[Any]
