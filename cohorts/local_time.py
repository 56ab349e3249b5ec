"""Wall-clock times in a time zone, and the two days a year they are not simple.

The cohort file says "Tuesdays at 09:00, Europe/Berlin": each occurrence is that local time
on that local date, so it stays at 09:00 across a daylight-saving change (its UTC instant
moves by an hour). Two local times need a decision, made here once:

- a time that does not exist (the clocks jump from 02:00 to 03:00, and the routine is at
  02:30) happens when the wall clock would have shown it had it not jumped: 03:30, the same
  moment as 01:30 UTC in Berlin (``fold=0``, as PEP 495 reads a gap);
- a time that exists twice (the clocks go back from 03:00 to 02:00, the routine is at
  02:30) happens the first time (``fold=0``, still on summer time), never twice: what is
  published is keyed by the local date, not by the instant.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "WEEKDAYS",
    "at_local",
    "in_zone",
    "local_label",
    "nth_weekday",
    "valid_zone",
    "weekday_number",
]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def valid_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValueError naming it when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)"
        ) from None


def in_zone(name: str | None) -> ZoneInfo:
    """The zone ``name``, or UTC for a missing or unknown one (what a member sees)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def weekday_number(name: str) -> int:
    """``monday`` -> 0 ... ``sunday`` -> 6."""
    return WEEKDAYS.index(name)


def at_local(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of ``wall`` on ``day`` in ``zone`` (the gap and the fold: see the
    module docstring)."""
    local = datetime.combine(day, wall.replace(tzinfo=None, fold=0), tzinfo=zone)
    return local.astimezone(UTC)


def nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    """The ``nth`` (1-4, or -1 for the last) ``weekday`` of a month."""
    if nth == -1:
        first_next = date(year + month // 12, month % 12 + 1, 1)
        last = first_next - timedelta(days=1)
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))


def local_label(instant: datetime, zone: ZoneInfo) -> str:
    """``Tue 3 Mar 09:00 CET``: an instant as a member in ``zone`` reads it."""
    local = instant.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %H:%M} {local.tzname()}"
