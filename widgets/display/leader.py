"""The leader one-pager: the few metrics that map to the outcomes the charter names
(``MetricsSettings.leader_metrics``), each with before and after and one plain sentence.

"Before" is the cohort's first week with a number, "after" its last full week (the current
week, not over yet, is left out); a metric with fewer than two such weeks says so instead.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

__all__ = ["Change", "change_of", "leader_html", "summary_sentence"]


@dataclass(frozen=True)
class Change:
    metric_id: str
    title: str
    unit: str
    now: float | None  # the metric over its window
    before: tuple[str, float] | None  # (week, value)
    after: tuple[str, float] | None
    says: str  # the plain-language sentence


def _fmt(value: float, unit: str) -> str:
    return f"{value:g} %" if unit.startswith("%") else f"{value:g} {unit}".strip()


def change_of(metric: dict[str, Any]) -> Change:
    """Before and after of one metric from its weekly trend, and what it means in words."""
    unit = str(metric.get("unit") or "")
    title = str(metric.get("title") or metric.get("id"))
    weeks = [
        (p["week"], p["value"])
        for p in metric.get("series") or []
        if p.get("value") is not None and not p.get("withheld") and not p.get("partial")
    ]
    before = weeks[0] if len(weeks) >= 2 else None
    after = weeks[-1] if len(weeks) >= 2 else None
    if metric.get("withheld"):
        says = str(metric["withheld"])
    elif before is None or after is None:
        says = str(metric.get("summary") or "Not enough weeks yet to compare.")
        if len(weeks) < 2:
            says += " Fewer than two full weeks have a number: no before and after yet."
    else:
        direction = "rose" if after[1] > before[1] else "fell" if after[1] < before[1] else "held"
        says = (
            f"{title} {direction} from {_fmt(before[1], unit)} in the week of {before[0]} "
            f"to {_fmt(after[1], unit)} in the week of {after[0]}."
        )
    return Change(
        str(metric.get("id")), title, unit, metric.get("value"), before, after, says.strip()
    )


def summary_sentence(changes: list[Change]) -> str:
    """One paragraph for a leader: what moved, in the metrics' own words."""
    compared = [c for c in changes if c.before and c.after]
    if not changes:
        return "There are no outcome metrics to show yet."
    if not compared:
        return (
            "The cohort is too new or too small to compare weeks yet; the numbers below "
            "are for the window so far."
        )
    up = [c.title.lower() for c in compared if c.after[1] > c.before[1]]  # type: ignore[index]
    down = [c.title.lower() for c in compared if c.after[1] < c.before[1]]  # type: ignore[index]
    parts = []
    if up:
        parts.append("rising: " + ", ".join(up))
    if down:
        parts.append("falling: " + ", ".join(down))
    if not parts:
        return "The outcome metrics held steady from the first week to the last."
    return "Since the cohort's first week, " + "; ".join(parts) + "."


def leader_html(metrics: dict[str, Any]) -> tuple[str, list[Change]]:
    """The one-pager's table and summary as HTML, and the changes it shows."""
    changes = [change_of(m) for m in metrics.get("metrics") or []]
    if not changes:
        return '<p class="nbc-meta">There are no outcome metrics to show yet.</p>', changes
    rows = []
    for c in changes:
        rows.append(
            "<tr>"
            f'<th scope="row">{html.escape(c.title)}</th>'
            f"<td>{_cell(c.now, c.unit)}</td>"
            f"<td>{_cell(c.before[1] if c.before else None, c.unit)}</td>"
            f"<td>{_cell(c.after[1] if c.after else None, c.unit)}</td>"
            f"<td>{html.escape(c.says)}</td></tr>"
        )
    window = int(metrics.get("window_days") or 0)
    table = (
        '<table class="nbc-table nbc-leader"><caption>Outcome metrics: the last '
        f"{window} days, and the first and last full week</caption><thead><tr>"
        '<th scope="col">metric</th><th scope="col">now</th><th scope="col">first week</th>'
        '<th scope="col">last week</th><th scope="col">what it means</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    summary = f'<p class="nbc-lead">{html.escape(summary_sentence(changes))}</p>'
    return summary + table, changes


def _cell(value: float | None, unit: str) -> str:
    return "–" if value is None else html.escape(_fmt(value, unit))
