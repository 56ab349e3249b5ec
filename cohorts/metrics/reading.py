"""How a metric is put together from one function that reads a span of time: the window's
value, the weekly trend from the same function, the small-group rule applied to both, and
a sentence that says what the number means (or why there is none)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nbcohort.cohorts.metrics.context import Context
from nbcohort.cohorts.metrics.model import Metric, Point, Window

__all__ = ["Reading", "assemble", "quartiles"]


@dataclass(frozen=True)
class Reading:
    """A metric read over one span: ``group`` is how many members its numbers are about."""

    value: float | None
    numerator: float | None
    denominator: float | None
    group: int
    detail: dict[str, Any] = field(default_factory=dict)


Read = Callable[[float, float], Reading]


def assemble(
    ctx: Context,
    *,
    id: str,
    title: str,
    unit: str,
    formula: str,
    read: Read,
    say: Callable[[Reading], str],
    empty: str | Callable[[Reading], str],
    to_date: bool = False,
    trend: bool = True,
    breakdown: dict[str, Any] | None = None,
) -> Metric:
    """The metric ``id``: ``read`` over the window (or the cohort to date), and per week."""
    window: Window = ctx.to_date() if to_date else ctx.window()
    now = read(-np.inf if to_date else ctx.start, ctx.now)
    reason = ctx.withheld(now.group)
    if reason is not None:
        value = numerator = denominator = None
        summary, detail = f"{title} is withheld: {reason}.", {}
    else:
        value, numerator, denominator = now.value, now.numerator, now.denominator
        quiet = empty(now) if callable(empty) else empty
        summary = say(now) if now.value is not None else quiet
        detail = now.detail
    return Metric(
        id=id,
        title=title,
        value=value,
        unit=unit,
        numerator=numerator,
        denominator=denominator,
        window=window,
        formula=formula,
        summary=summary,
        withheld=reason,
        series=_series(ctx, read) if trend else None,
        detail=detail,
        breakdown=breakdown or {},
    )


def _series(ctx: Context, read: Read) -> tuple[Point, ...]:
    out = []
    for monday, start, end, partial in ctx.week_spans():
        got = read(start, min(end, ctx.now))
        reason = ctx.withheld(got.group)
        week = monday.isoformat()
        if reason is not None:
            out.append(Point(week, None, withheld=reason, partial=partial))
        else:
            out.append(
                Point(week, got.value, got.numerator, got.denominator, None, partial, got.detail)
            )
    return tuple(out)


def quartiles(values: np.ndarray, digits: int = 1) -> dict[str, float | None]:
    """Median and quartiles of ``values`` (None for none)."""
    if len(values) == 0:
        return {"median": None, "p25": None, "p75": None}
    q25, q50, q75 = np.percentile(values, [25, 50, 75])
    return {"median": round(q50, digits), "p25": round(q25, digits), "p75": round(q75, digits)}
