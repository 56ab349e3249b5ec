"""An assignment's rubric and review settings from ``course/course.toml``, checked with
errors that name the file and the key, so a bad rubric never reaches a review round."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbcohort.cohorts.course import CourseError, load_course
from nbcohort.cohorts.services.allocation_rules import TEAM_RULES

__all__ = [
    "AGGREGATION",
    "ANONYMITY",
    "TEAM_RULES",
    "CalibrationItem",
    "Criterion",
    "Level",
    "ReviewSpec",
    "load_review_spec",
]

ANONYMITY = ("double-blind", "author-visible", "open")
AGGREGATION = ("model", "median", "ora2", "mean")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Level:
    points: float
    title: str
    descriptor: str = ""


@dataclass(frozen=True)
class Criterion:
    id: str
    title: str
    levels: tuple[Level, ...]
    description: str = ""
    cell: str = ""  # the nbgrader grade cell whose manual score the peer score becomes

    @property
    def minimum(self) -> float:
        return min(level.points for level in self.levels)

    @property
    def maximum(self) -> float:
        return max(level.points for level in self.levels)


@dataclass(frozen=True)
class CalibrationItem:
    """A sample the instructor scored: reviewers score it first; it anchors their bias."""

    notebook: Path
    scores: dict[str, float]


@dataclass(frozen=True)
class ReviewSpec:
    assignment: str
    title: str
    notebook: str
    criteria: tuple[Criterion, ...]
    reviewers: int = 3
    anonymity: str = "double-blind"
    self_assessment: bool = False
    required_comments: bool = True
    calibration: tuple[CalibrationItem, ...] = ()
    calibration_samples: int = 0
    team_rule: str = "prefer"
    aggregation: str = "model"
    flexible_after_hours: float = 48.0
    results_after_own_reviews: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def rubric_json(self) -> list[dict[str, Any]]:
        """The rubric as the store keeps it (a snapshot: later edits don't change a round)."""
        return [
            {
                "id": c.id,
                "title": c.title,
                "description": c.description,
                "cell": c.cell,
                "levels": [
                    {"points": lv.points, "title": lv.title, "descriptor": lv.descriptor}
                    for lv in c.levels
                ],
            }
            for c in self.criteria
        ]

    def settings_json(self) -> dict[str, Any]:
        return {
            "anonymity": self.anonymity,
            "self_assessment": self.self_assessment,
            "required_comments": self.required_comments,
            "team_rule": self.team_rule,
            "aggregation": self.aggregation,
            "flexible_after_hours": self.flexible_after_hours,
            "results_after_own_reviews": self.results_after_own_reviews,
            "calibration_samples": self.calibration_samples,
            "notebook": self.notebook,
        }


def _choice(raw: dict[str, Any], key: str, options: tuple[str, ...], where: str) -> str:
    value = raw.get(key, options[0])
    if value not in options:
        raise CourseError(f"{where}.{key}: {value!r} is not one of {', '.join(options)}")
    return str(value)


def _number(raw: dict[str, Any], key: str, default: float, where: str, *, low: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
        raise CourseError(f"{where}.{key}: expected a number >= {low:g}, got {value!r}")
    return float(value)


def _flag(raw: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise CourseError(f"{where}.{key}: expected true or false, got {value!r}")
    return value


def _criterion(raw: Any, where: str) -> Criterion:
    if not isinstance(raw, dict):
        raise CourseError(f"{where}: expected a table")
    cid = raw.get("id")
    if not isinstance(cid, str) or not _ID.match(cid):
        raise CourseError(f"{where}.id: {cid!r} must be lowercase letters, digits, '-' or '_'")
    levels = []
    for j, lv in enumerate(raw.get("levels") or []):
        lwhere = f"{where}.levels #{j + 1}"
        points = lv.get("points") if isinstance(lv, dict) else None
        if isinstance(points, bool) or not isinstance(points, int | float) or points < 0:
            raise CourseError(f"{lwhere}.points: expected a number >= 0, got {points!r}")
        if not str(lv.get("title", "")).strip():
            raise CourseError(f"{lwhere}.title: a level needs a title")
        levels.append(Level(float(points), str(lv["title"]), str(lv.get("descriptor", ""))))
    if len(levels) < 2:
        raise CourseError(f"{where}.levels: a criterion needs at least two levels")
    if len({lv.points for lv in levels}) != len(levels):
        raise CourseError(f"{where}.levels: two levels have the same points")
    return Criterion(
        cid,
        str(raw.get("title") or cid),
        tuple(sorted(levels, key=lambda lv: lv.points)),
        str(raw.get("description", "")),
        str(raw.get("cell", "")),
    )


def load_review_spec(course_toml: Path, assignment: str) -> ReviewSpec:
    """The review settings of ``assignment``; CourseError when missing or malformed."""
    course = load_course(course_toml)
    raw = course.assignments.get(assignment)
    where = f"{course_toml} [assignments.{assignment}]"
    if not isinstance(raw, dict):
        known = ", ".join(sorted(course.assignments)) or "none"
        raise CourseError(f"{course_toml}: no [assignments.{assignment}] (assignments: {known})")
    rubric = raw.get("rubric")
    if not isinstance(rubric, dict) or not rubric.get("criteria"):
        raise CourseError(f"{where}.rubric: a peer-reviewed assignment needs rubric criteria")
    criteria = tuple(
        _criterion(c, f"{where}.rubric.criteria #{i + 1}") for i, c in enumerate(rubric["criteria"])
    )
    ids = [c.id for c in criteria]
    if len(set(ids)) != len(ids):
        raise CourseError(f"{where}.rubric: criterion ids repeat: {', '.join(ids)}")
    reviewers = _number(raw, "reviewers", 3, where, low=1)
    if reviewers != int(reviewers):
        raise CourseError(f"{where}.reviewers: expected a whole number, got {reviewers:g}")
    calibration = []
    for i, item in enumerate(raw.get("calibration") or []):
        cwhere = f"{where}.calibration #{i + 1}"
        notebook = course_toml.parent / str(item.get("notebook", ""))
        if not item.get("notebook") or not notebook.is_file():
            raise CourseError(f"{cwhere}.notebook: no such file {str(notebook)!r}")
        scores = item.get("scores") or {}
        by_id = {c.id: c for c in criteria}
        if set(scores) != set(by_id):
            raise CourseError(f"{cwhere}.scores: give a score for each of {', '.join(by_id)}")
        for cid, value in scores.items():
            if value not in {lv.points for lv in by_id[cid].levels}:
                raise CourseError(f"{cwhere}.scores.{cid}: {value!r} is not a level's points")
        calibration.append(CalibrationItem(notebook, {k: float(v) for k, v in scores.items()}))
    samples = int(_number(raw, "calibration_samples", len(calibration), where, low=0))
    if samples > len(calibration):
        raise CourseError(
            f"{where}.calibration_samples: {samples} asked, {len(calibration)} calibration "
            "items given ([[assignments.<name>.calibration]] with notebook and scores)"
        )
    return ReviewSpec(
        assignment=assignment,
        title=str(raw.get("title", assignment)),
        notebook=str(raw.get("notebook", f"{assignment}.ipynb")),
        criteria=criteria,
        reviewers=int(reviewers),
        anonymity=_choice(raw, "anonymity", ANONYMITY, where),
        self_assessment=_flag(raw, "self_assessment", False, where),
        required_comments=_flag(raw, "required_comments", True, where),
        calibration=tuple(calibration[:samples]) if samples else (),
        calibration_samples=samples,
        team_rule=_choice(raw, "team_rule", TEAM_RULES, where),
        aggregation=_choice(raw, "aggregation", AGGREGATION, where),
        flexible_after_hours=_number(raw, "flexible_after_hours", 48, where, low=0),
        results_after_own_reviews=_flag(raw, "results_after_own_reviews", True, where),
    )
