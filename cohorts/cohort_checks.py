"""Checking a cohort file: every problem at once, each with file, key and line, including
what only shows when its templates are rendered (an undefined variable is refused here, not
at 3 a.m.). The schema itself is ``cohort_file.py``."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from nbcohort.cohorts.badge_file import BADGE_EVENTS, badge_problems
from nbcohort.cohorts.cohort_file import (
    CLINIC_VARS,
    MAX_ONBOARDING_DAY,
    ROUTINE_VARS,
    STEP_VARS,
    CohortFile,
    render,
)
from nbcohort.cohorts.local_time import WEEKDAYS
from nbcohort.cohorts.toml_lines import KeyLines
from nbcohort.cohorts.toml_lines import Path as KeyPath

__all__ = ["CohortFileError", "Problem", "check_cohort_file", "load_cohort_file"]


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
            if path[:2] == ("charter", "moderation") and path[-1:] == ("posts_per_hour",):
                msg += ": leave posts_per_hour out for no limit"
            if path[:1] == ("onboarding",) and path[-1:] == ("day",):
                msg += f": the onboarding lasts {MAX_ONBOARDING_DAY} days (day 0 to day 14)"
        else:
            msg = f"{msg[0].lower()}{msg[1:]} (got {e.get('input')!r})"
        out.append((path, msg))
    return out


def _cross_problems(raw: dict[str, Any]) -> list[tuple[KeyPath, str]]:
    """What no single key shows: clashes, duplicates, steps that need more, templates."""
    out = _cadence_problems(raw.get("cadence"), ("cadence",))
    community = raw.get("community")
    if isinstance(community, dict):
        out.extend(_cadence_problems(community.get("cadence"), ("community", "cadence")))
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


def _cadence_problems(raw: Any, at: KeyPath) -> list[tuple[KeyPath, str]]:
    """Clashing times, duplicate keys and bad templates in the cadence at ``at`` (the
    course's, or the community's after graduation)."""
    out: list[tuple[KeyPath, str]] = []
    cadence = raw if isinstance(raw, dict) else {}
    routines = cadence.get("routines") if isinstance(cadence.get("routines"), list) else []
    assert isinstance(routines, list)
    slots: dict[tuple[str, str], str] = {}
    highlights = cadence.get("highlights", {})
    if isinstance(highlights, dict) and highlights.get("enabled", at == ("cadence",)):
        slot = _slot(highlights.get("day", "friday"), highlights.get("time", dt.time(15, 0)))
        if slot:
            slots[slot] = f"{_key(at)}.highlights"
    keys: dict[str, int] = {}
    for i, routine in enumerate(routines):
        if not isinstance(routine, dict):
            continue
        slot = _slot(routine.get("day"), routine.get("time"))
        if slot and slot in slots:
            out.append(
                (
                    (*at, "routines", i, "time"),
                    f"at the same time as {slots[slot]} ({slot[0]} {slot[1]}): two routines "
                    "cannot share a time",
                )
            )
        elif slot:
            slots[slot] = f"{_key(at)}.routines#{i + 1} ({routine.get('title', '')})"
        key = routine.get("key")
        if isinstance(key, str):
            if key in keys:
                out.append(
                    ((*at, "routines", i, "key"), f"{key!r} is also routine #{keys[key] + 1}")
                )
            keys.setdefault(key, i)
        _template_problem(out, (*at, "routines", i, "prompt"), routine.get("prompt"), ROUTINE_VARS)
    clinic = cadence.get("clinic", {})
    if isinstance(clinic, dict):
        _template_problem(out, (*at, "clinic", "intro"), clinic.get("intro"), CLINIC_VARS)
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
