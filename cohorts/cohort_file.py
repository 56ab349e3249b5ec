"""The cohort file: one TOML file beside the roster that defines a cohort and its rhythm.

Dates, time zone, facilitators; the cadence (weekday micro-prompts, named routines, the
weekly highlights, the monthly clinic, the digest's day and hour); the fourteen-day
onboarding; notification settings. The schema is declared with pydantic; ``load_cohort_file``
checks everything at once and lists every problem with file, key and line, including what
only shows when templates are rendered (an undefined variable is refused here, not at 3 a.m.).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from types import NoneType, UnionType
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from nbcohort.cohorts.badge_file import BADGE_EVENTS, Badges, badge_problems
from nbcohort.cohorts.local_time import WEEKDAYS, valid_zone
from nbcohort.cohorts.toml_lines import KeyLines
from nbcohort.cohorts.toml_lines import Path as KeyPath

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

__all__ = [
    "ACTIONS",
    "Action",
    "Cadence",
    "Clinic",
    "CohortFile",
    "CohortFileError",
    "Digest",
    "Highlights",
    "Leaving",
    "Notifications",
    "Onboarding",
    "OnboardingStepSpec",
    "Problem",
    "Pulse",
    "Routine",
    "check_cohort_file",
    "from_stored",
    "load_cohort_file",
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


def _zone(value: str) -> str:
    valid_zone(value)
    return value


Weekday = Annotated[str, AfterValidator(_weekday)]
Zone = Annotated[str, AfterValidator(_zone)]
Slug = Annotated[str, Field(pattern=_SLUG)]
Title = Annotated[str, Field(min_length=1, max_length=200)]
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


class CohortFile(_Section):
    cohort: CohortSection
    cadence: Cadence = Field(default_factory=Cadence)
    onboarding: Onboarding = Field(default_factory=Onboarding)
    notifications: Notifications = Field(default_factory=Notifications)
    badges: Badges = Field(default_factory=Badges)
    leaving: Leaving = Field(default_factory=Leaving)


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


# -- problems ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class CohortFileError(ValueError):
    """The cohort file cannot be used; ``problems`` lists every one found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _key(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"#{part + 1}" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _known(path: KeyPath) -> list[str]:
    """The keys the section at ``path`` accepts (for "unknown key" messages)."""
    model: Any = CohortFile
    for part in path:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        ann = field.annotation
        inner = getattr(ann, "__args__", (ann,))[0] if getattr(ann, "__args__", None) else ann
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return []
        model = inner
    return list(model.model_fields)


def _schema_problems(error: ValidationError) -> list[tuple[KeyPath, str]]:
    out = []
    for e in error.errors(include_url=False):
        path = tuple(e["loc"])
        kind, msg = e["type"], e["msg"]
        if kind == "extra_forbidden":
            known = _known(path[:-1])
            msg = f"unknown key (known here: {', '.join(known)})" if known else "unknown key"
        elif kind == "missing":
            msg = "is required"
        elif kind == "literal_error" and path[:1] == ("badges",) and path[-1:] == ("event",):
            msg = f"unknown event kind {e.get('input')!r} (known: {', '.join(BADGE_EVENTS)})"
        elif kind == "value_error":
            msg = msg.removeprefix("Value error, ")
        elif kind in ("less_than_equal", "greater_than_equal"):
            bound = e.get("ctx", {})
            limit = f"at most {bound['le']}" if "le" in bound else f"at least {bound['ge']}"
            msg = f"must be {limit} (got {e.get('input')!r})"
            if path[:1] == ("onboarding",) and path[-1:] == ("day",):
                msg += f": the onboarding lasts {MAX_ONBOARDING_DAY} days (day 0 to day 14)"
        else:
            msg = f"{msg[0].lower()}{msg[1:]} (got {e.get('input')!r})"
        out.append((path, msg))
    return out


def _cross_problems(raw: dict[str, Any]) -> list[tuple[KeyPath, str]]:
    """What no single key shows: clashes, duplicates, steps that need more, templates."""
    out: list[tuple[KeyPath, str]] = []
    cadence = raw.get("cadence") if isinstance(raw.get("cadence"), dict) else {}
    assert isinstance(cadence, dict)
    routines = cadence.get("routines") if isinstance(cadence.get("routines"), list) else []
    assert isinstance(routines, list)
    slots: dict[tuple[str, str], str] = {}
    highlights = cadence.get("highlights", {})
    if isinstance(highlights, dict) and highlights.get("enabled", True):
        slot = _slot(highlights.get("day", "friday"), highlights.get("time", dt.time(15, 0)))
        if slot:
            slots[slot] = "cadence.highlights"
    keys: dict[str, int] = {}
    for i, routine in enumerate(routines):
        if not isinstance(routine, dict):
            continue
        slot = _slot(routine.get("day"), routine.get("time"))
        if slot and slot in slots:
            out.append(
                (
                    ("cadence", "routines", i, "time"),
                    f"at the same time as {slots[slot]} ({slot[0]} {slot[1]}): two routines "
                    "cannot share a time",
                )
            )
        elif slot:
            slots[slot] = f"cadence.routines#{i + 1} ({routine.get('title', '')})"
        key = routine.get("key")
        if isinstance(key, str):
            if key in keys:
                out.append(
                    (("cadence", "routines", i, "key"), f"{key!r} is also routine #{keys[key] + 1}")
                )
            keys.setdefault(key, i)
        _template_problem(
            out, ("cadence", "routines", i, "prompt"), routine.get("prompt"), ROUTINE_VARS
        )
    clinic = cadence.get("clinic", {})
    if isinstance(clinic, dict):
        _template_problem(out, ("cadence", "clinic", "intro"), clinic.get("intro"), CLINIC_VARS)
    onboarding = raw.get("onboarding") if isinstance(raw.get("onboarding"), dict) else {}
    assert isinstance(onboarding, dict)
    steps = onboarding.get("steps") if isinstance(onboarding.get("steps"), list) else []
    assert isinstance(steps, list)
    seen: dict[str, int] = {}
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        key = step.get("key")
        if isinstance(key, str):
            if key in seen:
                out.append(
                    (("onboarding", "steps", i, "key"), f"{key!r} is also step #{seen[key] + 1}")
                )
            seen.setdefault(key, i)
        if step.get("action") == "post_in" and not step.get("anchor"):
            out.append(
                (
                    ("onboarding", "steps", i, "anchor"),
                    "a post_in step needs the anchor of its thread",
                )
            )
        for name in ("title", "text"):
            _template_problem(out, ("onboarding", "steps", i, name), step.get(name), STEP_VARS)
    cohort = raw.get("cohort") if isinstance(raw.get("cohort"), dict) else {}
    assert isinstance(cohort, dict)
    starts, ends = cohort.get("starts_on"), cohort.get("ends_on")
    if isinstance(starts, date) and isinstance(ends, date) and ends < starts:
        out.append((("cohort", "ends_on"), f"{ends} is before starts_on {starts}"))
    return out


def _slot(day: Any, at: Any) -> tuple[str, str] | None:
    if not isinstance(day, str) or day.strip().lower() not in WEEKDAYS:
        return None
    if isinstance(at, str) and re.match(r"^\d{1,2}:\d{2}(:\d{2})?$", at):
        at = dt.time.fromisoformat(at.zfill(5) if len(at) < 5 else at)
    if not isinstance(at, dt.time):
        return None
    return day.strip().lower(), at.strftime("%H:%M")


def _template_problem(
    out: list[tuple[KeyPath, str]], path: KeyPath, template: Any, values: dict[str, Any]
) -> None:
    if not isinstance(template, str):
        return
    from jinja2 import TemplateError

    try:
        render(template, values)
    except TemplateError as exc:
        known = ", ".join(sorted(values))
        out.append((path, f"template: {exc.message or exc} (variables: {known})"))


def check_cohort_file(text: str, filename: str) -> tuple[CohortFile | None, list[Problem]]:
    """Parse and check a cohort file's text: the file, or None, and every problem found."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"at line (\d+)", str(exc))
        return None, [Problem(filename, int(line.group(1)) if line else None, "", str(exc))]
    lines = KeyLines(text)
    found: list[tuple[KeyPath, str]] = []
    spec: CohortFile | None = None
    try:
        spec = CohortFile.model_validate(raw)
    except ValidationError as exc:
        found.extend(_schema_problems(exc))
    found.extend(_cross_problems(raw))
    found.extend(badge_problems(raw.get("badges")))
    problems = [Problem(filename, lines.line_of(p), _key(p), m) for p, m in found]
    problems.sort(key=lambda p: (p.line or 0, p.key))
    return (spec if not problems else None), problems


def load_cohort_file(path: Path) -> tuple[CohortFile, str]:
    """The checked cohort file at ``path`` and its SHA-256; CohortFileError lists every
    problem."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CohortFileError([Problem(str(path), None, "", exc.strerror or str(exc))]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CohortFileError([Problem(str(path), None, "", "not UTF-8 text")]) from None
    spec, problems = check_cohort_file(text, str(path))
    if spec is None:
        raise CohortFileError(problems)
    return spec, hashlib.sha256(data).hexdigest()
