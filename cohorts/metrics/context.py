"""What every metric shares: the window, the cohort's weeks (``weeks.py``), who counts, and
the one rule about small groups."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd

from nbcohort.cohorts.metrics.frames import Frames
from nbcohort.cohorts.metrics.model import Window
from nbcohort.cohorts.metrics.weeks import DAY, SERIES_WEEKS, iso, trend_weeks

__all__ = ["DAY", "SERIES_WEEKS", "Context", "Timed", "iso"]


class Timed:
    """The rows of a frame in the order of one time column, so that any span of time is a
    slice (a metric reads the same rows for the window and for each week)."""

    def __init__(self, frame: pd.DataFrame, column: str = "at") -> None:
        times = frame[column].to_numpy(dtype="float64")
        order = np.argsort(times, kind="stable")  # NaN last: in no span
        self.frame = frame.iloc[order].reset_index(drop=True)
        self.times = times[order]

    def between(self, start: float, end: float) -> pd.DataFrame:
        """The rows whose time is in [start, end)."""
        lo, hi = np.searchsorted(self.times, [start, end], side="left")
        return self.frame.iloc[lo:hi]


@dataclass
class Context:
    """The frames of one cohort seen at ``now`` over a window of ``days`` days."""

    frames: Frames
    now: float
    days: int
    roles: tuple[str, ...]
    min_group: int
    weeks: list[date] = field(init=False)
    edges: np.ndarray = field(init=False)  # UTC starts of the weeks, and the end of the last
    counted: pd.DataFrame = field(init=False)  # the members of the roles that count
    _ids: np.ndarray = field(init=False)
    _joined: np.ndarray = field(init=False)
    _left: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.weeks, self.edges = trend_weeks(self.frames.tz, self.frames.start, self.now)
        members = self.frames.members
        self.counted = members[members["role"].isin(self.roles)]
        self._ids = self.counted.index.to_numpy()
        self._joined = self.counted["joined"].to_numpy(dtype="float64")
        self._left = self.counted["left"].to_numpy(dtype="float64")

    # -- spans ------------------------------------------------------------------------------
    @property
    def start(self) -> float:
        return self.now - self.days * DAY

    def window(self) -> Window:
        label = f"the last {self.days} day{'s' if self.days != 1 else ''}"
        return Window(iso(self.start), iso(self.now), self.days, label)

    def to_date(self) -> Window:
        return Window(None, iso(self.now), None, "the cohort to date")

    def week_spans(self) -> list[tuple[date, float, float, bool]]:
        """(Monday, UTC start, UTC end, partial) for each week of the trend."""
        return [
            (
                monday,
                float(self.edges[i]),
                float(self.edges[i + 1]),
                bool(self.edges[i + 1] > self.now),
            )
            for i, monday in enumerate(self.weeks)
        ]

    def week_of(self, at: pd.Series | np.ndarray) -> np.ndarray:
        """The index of the trend week each time falls in; -1 outside the trend."""
        values = np.asarray(at, dtype="float64")
        index = np.searchsorted(self.edges, values, side="right") - 1
        outside = (index < 0) | (index >= len(self.weeks)) | np.isnan(values)
        return np.where(outside, -1, index)

    # -- who counts -------------------------------------------------------------------------
    def population(self, start: float, end: float) -> np.ndarray:
        """Ids of the counted members who were members at some time in [start, end)."""
        left = self._left
        return self._ids[(self._joined < end) & (np.isnan(left) | (left > start))]

    def withheld(self, group: int, what: str = "members") -> str | None:
        """Why a number about ``group`` people is not shown, or None when it may be."""
        if 0 < group < self.min_group:
            return (
                f"it is about fewer than {self.min_group} {what} ({group}), and numbers about "
                "so few people could tell on one of them"
            )
        return None

    @cached_property
    def contributions(self) -> Timed:
        """(member_id, at) of every contribution by a counted member: a post (a reply and a
        prompt answer are posts; a post deleted later was still written), a review's first
        submission, an artifact shared."""
        f = self.frames
        reviews = f.reviews.dropna(subset=["submitted"])
        parts = [
            (f.posts["author_id"], f.posts["at"]),
            (reviews["reviewer_id"], reviews["submitted"]),
            (f.artifacts["author_id"], f.artifacts["at"]),
        ]
        who = np.concatenate([np.asarray(m, dtype="float64") for m, _ in parts])
        at = np.concatenate([np.asarray(t, dtype="float64") for _, t in parts])
        keep = np.isin(who, self.counted.index.to_numpy())
        frame = pd.DataFrame({"member_id": who[keep].astype("int64"), "at": at[keep]})
        return Timed(frame)
