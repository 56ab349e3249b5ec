"""The ``[ideas]`` and ``[nudges]`` sections of the cohort file: when an idea is escalated to
the facilitators, and what the sponsors' weekly list of leader nudges holds. Kept apart
from cohort_file.py (which includes them), like ``badge_file.py``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from nbcohort.cohorts.local_time import WEEKDAYS

__all__ = ["Ideas", "Nudges"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _weekday(value: str) -> str:
    day = value.strip().lower()
    if day not in WEEKDAYS:
        raise ValueError(f"{value!r} is not a day of the week ({', '.join(WEEKDAYS)})")
    return day


class Ideas(_Section):
    """Ideas to pilots (services/ideas.py): an idea with ``endorsements`` endorsements from
    members other than its author is escalated to the facilitators."""

    enabled: bool = True
    endorsements: Annotated[int, Field(ge=1, le=1000)] = 5


class Nudges(_Section):
    """The sponsors' weekly leader nudges (services/nudges.py): questions unanswered for
    ``unanswered_hours``, open ideas within ``near`` endorsements of the threshold, active
    pilots whose review date is within ``review_days``; at most ``size`` of them. Emailed on
    ``day`` at ``send_at`` (the cohort's zone) when mail is configured."""

    enabled: bool = True
    day: Annotated[str, AfterValidator(_weekday)] = "monday"
    send_at: dt.time = dt.time(8, 0)
    unanswered_hours: Annotated[int, Field(ge=1, le=720)] = 48
    near: Annotated[int, Field(ge=1, le=100)] = 2
    review_days: Annotated[int, Field(ge=0, le=90)] = 7
    size: Annotated[int, Field(ge=1, le=20)] = 5
