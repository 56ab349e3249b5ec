"""The cohort's weeks and the instants where the spans the metrics read begin and end.

Weeks start on Monday at 00:00 in the cohort's time zone (their UTC instants follow daylight
saving time); the trend covers the weeks from the cohort's start to now, the last
``SERIES_WEEKS`` of them at most. The window is the ``days`` before now. Every span a metric
reads over the log is [one bound, a later bound) (``span_bounds``), so the database can count
the log per span before anything reaches pandas (``log.py``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

__all__ = ["DAY", "SERIES_WEEKS", "iso", "span_bounds", "trend_weeks", "zone"]

DAY = 86_400.0
SERIES_WEEKS = 26


def iso(at: float) -> str:
    """``at`` (seconds since the epoch) in UTC, ISO 8601 to the second."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def zone(name: str) -> ZoneInfo:
    """The cohort's time zone; UTC for a name the time zone database does not know."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _monday(at: float, tz: ZoneInfo) -> date:
    local = datetime.fromtimestamp(at, tz).date()
    return local - timedelta(days=local.weekday())


def trend_weeks(tz: str, start: float, now: float) -> tuple[list[date], np.ndarray]:
    """The Mondays of the trend, and the UTC instants where each week starts followed by
    the end of the last (one more instant than Mondays)."""
    where = zone(tz)
    first = _monday(min(start, now), where)
    last = _monday(now, where)
    count = min((last - first).days // 7 + 1, SERIES_WEEKS)
    weeks = [last - timedelta(days=7 * k) for k in reversed(range(count))]
    mondays = [*weeks, last + timedelta(days=7)]
    edges = np.array(
        [datetime.combine(d, datetime.min.time(), tzinfo=where).timestamp() for d in mondays]
    )
    return weeks, edges


def span_bounds(tz: str, start: float, now: float, days: int) -> np.ndarray:
    """Every instant where a span of the metrics over ``days`` at ``now`` begins or ends:
    the week edges, the window's start and now (sorted, each once)."""
    _, edges = trend_weeks(tz, start, now)
    return np.unique(np.concatenate([edges, [now - days * DAY, now]]))
