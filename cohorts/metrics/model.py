"""What a metric is when it leaves this package: numbers, the formula in words, the window,
why it is withheld if it is, and its weekly trend. Never NaN: a number that cannot be
computed is None, and ``summary`` says why in words."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Metric", "Point", "Window", "clean", "percent"]


@dataclass(frozen=True)
class Window:
    """The span a metric looks at: ``days`` before ``end`` (UTC, ISO 8601), or the cohort to
    date (``days`` None)."""

    start: str | None
    end: str
    days: int | None
    label: str

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "days": self.days, "label": self.label}


@dataclass(frozen=True)
class Point:
    """One week of a metric's trend (weeks start on Monday in the cohort's time zone)."""

    week: str  # the Monday, YYYY-MM-DD
    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    withheld: str | None = None
    partial: bool = False  # the current week, not over yet
    detail: dict[str, Any] = field(default_factory=dict)  # e.g. the funnel's stages

    def as_dict(self) -> dict[str, Any]:
        return {
            "week": self.week,
            "value": clean(self.value),
            "numerator": clean(self.numerator),
            "denominator": clean(self.denominator),
            "withheld": self.withheld,
            "partial": self.partial,
            "detail": _clean_tree(self.detail),
        }


@dataclass(frozen=True)
class Metric:
    """One metric of the cohort, as every page and the API show it."""

    id: str
    title: str
    value: float | None
    unit: str
    numerator: float | None
    denominator: float | None
    window: Window
    formula: str
    summary: str
    withheld: str | None = None
    series: tuple[Point, ...] | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # quartiles, stages, breakdowns
    breakdown: dict[str, Any] = field(default_factory=dict)  # per step/practice: staff only

    def as_dict(self, *, breakdown: bool = True) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "value": clean(self.value),
            "unit": self.unit,
            "numerator": clean(self.numerator),
            "denominator": clean(self.denominator),
            "window": self.window.as_dict(),
            "formula": self.formula,
            "summary": self.summary,
            "withheld": self.withheld,
            "series": None if self.series is None else [p.as_dict() for p in self.series],
            "detail": _clean_tree(self.detail),
            "breakdown": _clean_tree(self.breakdown) if breakdown else {},
        }


def clean(value: float | None, digits: int = 2) -> float | None:
    """A number fit for JSON: None for a missing or undefined one, never NaN or infinity."""
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else round(number, digits)


def _clean_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_tree(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) or hasattr(value, "__float__"):
        return clean(float(value))
    return value


def percent(numerator: float, denominator: float) -> float | None:
    """100 · numerator / denominator, one decimal; None when there is nothing to divide by."""
    if not denominator:
        return None
    return round(100.0 * numerator / denominator, 1)
