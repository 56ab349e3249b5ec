"""What each route accepts: request bodies and query strings declared as pydantic models, and
checked before any work is done. A wrong type, a missing field or a number out of range is a
422 that names the field; the services layer then applies the community's rules (lengths set
in config, anchors, rubric levels) to values of the right shape.

Bodies are strict JSON (``"5"`` is not a number, ``true`` is not an id); query strings are
text, so there numbers are parsed. Unknown fields are ignored, so older clients keep working.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nbcohort.cohorts.services.errors import Invalid, NotFound
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
    "parse_body",
    "parse_query",
    "path_id",
]

# Ids are INTEGER columns: PostgreSQL's is 32 bits, so no id beyond this exists anywhere.
ID_MAX = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=ID_MAX)]
# Generous ceilings on shape only; the community's own limits (max_post_chars...) are rules.
_TEXT = 1_000_000
Text = Annotated[str, Field(max_length=_TEXT)]
Short = Annotated[str, Field(max_length=1000)]

M = TypeVar("M", bound=BaseModel)


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
    window: Annotated[int, Field(ge=1, le=366)] | None = None  # days; None: the setting


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
    quiet_days: Annotated[int, Field(ge=1, le=90)] = 7
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


# pydantic's error types, as a member reads them; others keep pydantic's own words.
_SAYS = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "model_type": "must be an object",
    "string_too_long": "must be at most {max_length} characters",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "literal_error": "must be {expected}",
    "too_long": "must have at most {max_length} items",
    "string_pattern_mismatch": "must look like {pattern}",
}


def _refusal(error: ValidationError) -> Invalid:
    """The first problem pydantic found, as the 422 the API answers, naming the field."""
    first = error.errors(include_url=False, include_input=False)[0]
    # A union's branch names itself after the field (``parent_id.int``): name the field.
    loc = [str(part) for part in first["loc"] if not isinstance(part, int)]
    kind = first["type"]
    if kind == "json_invalid":
        return Invalid(f"request body is not valid JSON: {first['msg']}", field="body")
    if not loc:
        return Invalid("request body must be a JSON object", field="body")
    says = _SAYS.get(kind)
    text = says.format(**first.get("ctx", {})) if says else first["msg"].lower()
    return Invalid(f"{loc[0]} {text}", field=loc[0])


def _refuse_nul(value: Any, field: str) -> None:
    """A NUL character is text no one types, and PostgreSQL refuses it in a text column (a
    500 if it got that far): refused wherever it hides in what was given."""
    if isinstance(value, str):
        if "\x00" in value:
            raise Invalid(f"{field} holds a NUL character (U+0000)", field=field)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key, field)
            _refuse_nul(item, field)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _refuse_nul(item, field)
    elif isinstance(value, BaseModel):
        for _, item in value:
            _refuse_nul(item, field)


def parse_body(model: type[M], raw: bytes) -> M:
    """``raw`` as ``model``; an empty body is an empty object. Raises Invalid (422)."""
    try:
        parsed = model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise _refusal(exc) from None
    if b"\\u0000" in raw:  # the only way JSON carries a NUL: look closer only then
        for name, value in parsed:
            _refuse_nul(value, name)
    return parsed


def parse_query(model: type[M], arguments: Mapping[str, list[bytes]]) -> M:
    """The query string as ``model`` (a repeated name: its last value). Raises Invalid."""
    values: dict[str, Any] = {}
    for name, given in arguments.items():
        try:
            values[name] = given[-1].decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid(f"{name}: not UTF-8 text", field=name) from None
        _refuse_nul(values[name], name)
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise _refusal(exc) from None


def path_id(raw: str, what: str, field: str) -> int:
    """An id from the URL: the route's pattern keeps it to digits; one larger than any id
    the database can hold names nothing, so it is not found, like any absent id."""
    value = int(raw)
    if not 1 <= value <= ID_MAX:
        raise NotFound(f"no {what} {raw}", field=field)
    return value


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
