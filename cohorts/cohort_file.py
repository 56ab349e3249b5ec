"""The cohort file: one TOML file beside the roster that defines a cohort and its rhythm.

Dates, time zone, facilitators; the cadence (weekday micro-prompts, named routines, the
weekly highlights, the monthly clinic, the digest's day and hour); the fourteen-day
onboarding; notification settings. The schema is declared here with pydantic;
``cohort_checks.py`` checks a file against it and lists every problem with file, key and line.
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import date
from functools import cache
from types import NoneType, UnionType
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from nbcohort.cohorts.badge_file import Badges
from nbcohort.cohorts.charter_file import CharterSection
from nbcohort.cohorts.idea_file import Ideas, Nudges
from nbcohort.cohorts.local_time import WEEKDAYS, valid_zone
from nbcohort.cohorts.plain_text import unseen_characters

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

__all__ = [
    "ACTIONS",
    "Action",
    "Cadence",
    "Clinic",
    "CohortFile",
    "Community",
    "Digest",
    "Highlights",
    "Leaving",
    "Notifications",
    "Onboarding",
    "OnboardingStepSpec",
    "Pulse",
    "Routine",
    "from_stored",
    "render",
]

MAX_ONBOARDING_DAY = 14
# What a member does to complete an onboarding step (detected from the store, see
# services/onboarding.py); "none" is done when the member says so.
Action = Literal[
    "ack_charter",
    "answer_prompt",
    "post_in",
    "engage_peer",
    "share_or_review",
    "apply_practice",
    "none",
]
ACTIONS: tuple[str, ...] = get_args(Action)
_SLUG = r"^[a-z0-9][a-z0-9-]{0,62}$"


def _weekday(value: str) -> str:
    day = value.strip().lower()
    if day not in WEEKDAYS:
        raise ValueError(f"{value!r} is not a day of the week ({', '.join(WEEKDAYS)})")
    return day


def _one_line(value: str) -> str:
    bad = unseen_characters(value)
    if bad:
        raise ValueError(
            f"one line of text, without control or invisible characters ({', '.join(bad)})"
        )
    return value


def _zone(value: str) -> str:
    valid_zone(value)
    return value


Weekday = Annotated[str, AfterValidator(_weekday)]
Zone = Annotated[str, AfterValidator(_zone)]
Slug = Annotated[str, Field(pattern=_SLUG)]
Title = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_one_line)]
Template = Annotated[str, Field(min_length=1, max_length=5000)]
Anchor = Annotated[str, Field(pattern=r"^[A-Za-z0-9][\w./-]{0,199}$")]


class _Section(BaseModel):
    # Validators are built on first validation (``cohort validate``/``apply``), not at
    # import: the tick reads the stored file back with ``from_stored`` and never needs them.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class CohortSection(_Section):
    slug: Slug
    title: Title
    course: str = ""
    starts_on: date
    ends_on: date | None = None  # the course's last day; the community goes on after it
    timezone: Zone = "UTC"
    facilitators: list[str] = Field(default_factory=list)  # usernames or emails


class Prompts(_Section):
    enabled: bool = True
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    time: dt.time = dt.time(8, 30)
    library: bool = True  # after the course's prompts, the kit's community prompts


class Routine(_Section):
    key: Slug
    title: Title
    day: Weekday
    time: dt.time
    prompt: Template
    host: str = ""  # a champion's username; a facilitator posts when empty or absent
    minutes: Annotated[int, Field(ge=5, le=480)] = 30


class Highlights(_Section):
    enabled: bool = True
    day: Weekday = "friday"
    time: dt.time = dt.time(15, 0)
    anchor: Anchor = "topic/highlights"
    top: Annotated[int, Field(ge=1, le=20)] = 5


class Clinic(_Section):
    enabled: bool = True
    week: Annotated[int, Field(ge=-1, le=4)] = 1  # 1-4, or -1 for the month's last
    day: Weekday = "thursday"
    time: dt.time = dt.time(16, 0)
    minutes: Annotated[int, Field(ge=15, le=480)] = 60
    title: Title = "Monthly live clinic"
    location: str = ""
    questions_days_before: Annotated[int, Field(ge=0, le=28)] = 7
    intro: Template = (
        "Our next live clinic is on {{ when }}. Post your questions here beforehand, "
        "and sign up to join."
    )


class Digest(_Section):
    """Read by the email side (settings["digest"]): a digest of what a member missed."""

    enabled: bool = True
    day: Weekday = "monday"
    hour: Annotated[int, Field(ge=0, le=23)] = 8
    away_days: Annotated[int, Field(ge=1, le=60)] = 3  # not seen for this long: a digest


def _default_pulse_questions() -> list[str]:
    return [
        "I can ask a question here without feeling judged.",
        "What I learn here helps me at work.",
        "I know what to do next in the course.",
        "The pace of the cohort suits me.",
    ]


class Pulse(_Section):
    """The recurring pulse survey (services/pulse.py): Likert 1-5 questions and one free
    text, opened every ``every_weeks`` weeks on ``day`` at ``time`` for ``open_days``."""

    enabled: bool = False
    every_weeks: Annotated[int, Field(ge=1, le=12)] = 2
    day: Weekday = "friday"
    time: dt.time = dt.time(14, 0)
    open_days: Annotated[int, Field(ge=1, le=14)] = 5
    title: Title = "Pulse survey"
    questions: Annotated[list[Title], Field(min_length=3, max_length=5)] = Field(
        default_factory=_default_pulse_questions
    )
    free_text: Title = "Anything else you want the facilitators to know?"
    # No result is shown before this many members answered; PrivacySettings.pulse_min_answers
    # (never below 3) is the floor, this can only raise it.
    min_answers: Annotated[int, Field(ge=3, le=1000)] = 5


class Cadence(_Section):
    until: date | None = None  # no cadence after this day (default: none, it goes on)
    prompts: Prompts = Field(default_factory=Prompts)
    routines: list[Routine] = Field(default_factory=list)
    highlights: Highlights = Field(default_factory=Highlights)
    clinic: Clinic = Field(default_factory=Clinic)
    digest: Digest = Field(default_factory=Digest)
    pulse: Pulse = Field(default_factory=Pulse)


class OnboardingStepSpec(_Section):
    key: Slug
    day: Annotated[int, Field(ge=0, le=MAX_ONBOARDING_DAY)]
    title: Title
    text: Template
    action: Action
    anchor: str = ""  # post_in: the thread (or "module-1/" for any thread under it)
    link: str = ""  # where to do it: a notebook path, a section anchor


Role = Literal["learner", "champion", "facilitator", "instructor", "alumni"]


def _newcomers() -> list[Role]:
    return ["learner", "champion"]


class Onboarding(_Section):
    roles: list[Role] = Field(default_factory=_newcomers)
    send_at: dt.time = dt.time(9, 0)  # in the member's own time zone
    contributor_posts: Annotated[int, Field(ge=1, le=100)] = 3
    steps: list[OnboardingStepSpec] = Field(default_factory=list)


class Notifications(_Section):
    """Read by the email side (settings["notifications"])."""

    email_default: Literal["all", "digest", "none"] = "all"
    email_kinds: list[str] = Field(
        default_factory=lambda: ["mention", "reply", "review", "onboarding"]
    )
    max_emails_per_day: Annotated[int, Field(ge=0, le=100)] = 5


class Leaving(_Section):
    """The charter's rule for a leaving member's posts; unset: PrivacySettings decides."""

    posts: Literal["keep", "remove"] | None = None


def _community_name(value: str) -> str:
    if not re.fullmatch(_SLUG, value):
        raise ValueError(
            f"community name {value!r} must be lowercase letters, digits and '-' "
            "(a letter or digit first, at most 63)"
        )
    return value


def _community_cadence() -> Cadence:
    """The community's rhythm once the course has ended: fewer prompts (one a week, from the
    kit's community library), no weekly highlights, the monthly clinic, the digest."""
    return Cadence(
        prompts=Prompts(days=["tuesday"]),
        highlights=Highlights(enabled=False),
    )


class Community(_Section):
    """The community of practice the cohort graduates into (``cohort graduate``): cohorts
    naming the same ``name`` share its topics and read each other's course threads; after
    graduation ``cadence`` replaces the course's."""

    name: Annotated[str, AfterValidator(_community_name)]
    title: Annotated[str, Field(max_length=200)] = ""
    cadence: Cadence = Field(default_factory=_community_cadence)


class CohortFile(_Section):
    cohort: CohortSection
    cadence: Cadence = Field(default_factory=Cadence)
    onboarding: Onboarding = Field(default_factory=Onboarding)
    notifications: Notifications = Field(default_factory=Notifications)
    badges: Badges = Field(default_factory=Badges)
    leaving: Leaving = Field(default_factory=Leaving)
    charter: CharterSection = Field(default_factory=CharterSection)
    community: Community | None = None
    ideas: Ideas = Field(default_factory=Ideas)
    nudges: Nudges = Field(default_factory=Nudges)


M = TypeVar("M", bound=BaseModel)


def from_stored(model: type[M], data: dict[str, Any]) -> M:
    """``model`` rebuilt from its own ``model_dump(mode="json")`` without validating it again
    (``model_construct``): the file ``cohort apply`` checked and stored, read back by every
    tick without building pydantic's validators (a tenth of the command's time budget)."""
    values = {
        name: _stored(field.annotation, data[name])
        for name, field in model.model_fields.items()
        if name in data
    }
    return model.model_construct(**values)


def _stored(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(kind)
    if origin in (Union, UnionType):  # X | None
        inner = [a for a in get_args(kind) if a is not NoneType]
        return _stored(inner[0], value) if len(inner) == 1 else value
    if origin is list:
        return [_stored(get_args(kind)[0], v) for v in value]
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return from_stored(kind, value)
    if kind is dt.time:
        return dt.time.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    return value


# -- templates --------------------------------------------------------------------------------
@cache
def _environment() -> SandboxedEnvironment:
    """Jinja2, sandboxed and strict; made on first use (a tick with nothing due renders
    nothing, so it does not load Jinja2)."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


# The variables each kind of template may use, with the sample values validate renders.
ROUTINE_VARS = {
    "cohort": "Cohort",
    "routine": "Routine",
    "host": "Host",
    "date": "Tuesday 3 March",
    "week": 1,
}
STEP_VARS = {"name": "Ana", "cohort": "Cohort", "day": 2, "link": "module-1/first-look"}
CLINIC_VARS = {
    "cohort": "Cohort",
    "clinic": "Clinic",
    "when": "Thu 4 Mar 16:00 CET",
    "location": "https://meet.example.org/x",
}


def render(template: str, values: dict[str, Any]) -> str:
    """Render a cohort-file template; an undefined variable raises (StrictUndefined)."""
    return _environment().from_string(template).render(values).strip()
