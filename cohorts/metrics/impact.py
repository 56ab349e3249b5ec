"""What the course changes: artifacts others reuse, and how soon members apply a practice.

A practice's release is the later of the cohort's start (its first day, 00:00 in its time
zone) and the moment the practice came into the cohort (its first ``practice.sync`` in the
log; the cohort's creation when the log has none). A member's clock for a practice starts at
the later of its release and the day they joined.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nbcohort.cohorts.metrics.context import DAY, Context, Timed
from nbcohort.cohorts.metrics.model import Metric, percent
from nbcohort.cohorts.metrics.reading import Reading, assemble, quartiles

__all__ = ["applied_within_14_days", "artifact_reuse_rate", "practice_clock", "time_to_apply"]

APPLY_DAYS = 14
_RELEASE = (
    "A practice is released at the later of the cohort's start and when it came into the "
    "cohort (course sync); a member's clock starts at the later of that and when they joined."
)


def artifact_reuse_rate(ctx: Context) -> Metric:
    arts, reuses = ctx.frames.artifacts, ctx.frames.reuses
    author = arts.set_index("id")["author_id"] if len(arts) else pd.Series(dtype="float64")
    by_others = reuses[reuses["member_id"].to_numpy() != reuses["artifact_id"].map(author)]

    def read(_start: float, end: float) -> Reading:
        shared = arts[arts["at"].to_numpy() < end]
        used = by_others[by_others["at"].to_numpy() < end]["artifact_id"].unique()
        n = int(shared["id"].isin(used).sum())
        return Reading(percent(n, len(shared)), n, len(shared), shared["author_id"].nunique())

    return assemble(
        ctx,
        id="artifact_reuse_rate",
        title="Artifact reuse rate",
        unit="%",
        formula="Artifacts in the library (shared by anyone, up to the end of the window or "
        "week) that at least one member other than the author has copied, divided by the "
        "artifacts shared. A member's copies of one artifact count once (artifact_reuse).",
        read=read,
        say=lambda r: (
            f"{r.numerator:g} of {r.denominator:g} artifacts ({r.value:g} %) were "
            "reused by someone other than their author."
        ),
        empty="No artifacts shared yet.",
        to_date=True,
    )


def practice_clock(ctx: Context) -> pd.DataFrame:
    """One row per counted member and practice: ``begin`` (their clock's start),
    ``applied`` (NaN: not yet), ``left`` (NaN: still a member), ``practice`` key."""
    f = ctx.frames
    if not len(f.practices) or not len(ctx.counted):
        return pd.DataFrame(columns=["member_id", "practice", "begin", "applied", "left"])
    release = np.maximum(f.practices["synced"].to_numpy(dtype="float64"), f.start)
    members = ctx.counted
    pairs = pd.MultiIndex.from_product(
        [members.index, f.practices["key"].astype(str)], names=["member_id", "practice"]
    ).to_frame(index=False)
    pairs["release"] = pairs["practice"].map(dict(zip(f.practices["key"], release, strict=True)))
    pairs["begin"] = np.maximum(pairs["release"], pairs["member_id"].map(members["joined"]))
    pairs["left"] = pairs["member_id"].map(members["left"])
    applied = f.applied.groupby(["member_id", "practice"])["at"].min()
    keys = pd.MultiIndex.from_frame(pairs[["member_id", "practice"]])
    pairs["applied"] = applied.reindex(keys).to_numpy(dtype="float64")
    return pairs


def _per_practice(ctx: Context, rows: pd.DataFrame, make: Any) -> dict[str, Any]:
    titles = dict(zip(ctx.frames.practices["key"], ctx.frames.practices["title"], strict=True))
    out = {}
    for key, group in rows.groupby("practice"):
        members = group["member_id"].nunique()
        reason = ctx.withheld(members)
        out[str(key)] = {"title": titles.get(key, ""), "withheld": reason, **make(group, reason)}
    return out


def time_to_apply(ctx: Context, clock: pd.DataFrame) -> Metric:
    done = clock.dropna(subset=["applied"])
    done = done.assign(days=np.maximum(done["applied"] - done["begin"], 0) / DAY)
    timed = Timed(done, "applied")

    def read(start: float, end: float) -> Reading:
        span = timed.between(start, end)
        q = quartiles(span["days"].to_numpy())
        within = int((span["days"] <= APPLY_DAYS).sum())
        detail = {**q, "applied": len(span), "within_14_days": percent(within, len(span))}
        return Reading(q["median"], None, len(span), span["member_id"].nunique(), detail)

    def make(group: pd.DataFrame, reason: str | None) -> dict[str, Any]:
        return {} if reason else {**quartiles(group["days"].to_numpy()), "applied": len(group)}

    return assemble(
        ctx,
        id="time_to_apply",
        title="Time to apply",
        unit="days (median)",
        formula='For every time a member whose role counts said "I applied this" about one '
        "of the course's practices, the days from the start of their clock to that moment "
        "(0 when they applied earlier); the median, with quartiles. The weekly trend takes "
        f"the applications of each week. {_RELEASE}",
        read=read,
        say=lambda r: (
            f"Half of the {r.denominator:g} applications came within {r.value:g} "
            f"days of the practice's release (middle half: {r.detail['p25']:g} to "
            f"{r.detail['p75']:g} days)."
        ),
        empty='Nobody has said "I applied this" yet.',
        to_date=True,
        breakdown=_per_practice(ctx, done, make),
    )


def applied_within_14_days(ctx: Context, clock: pd.DataFrame) -> Metric:
    due = clock.assign(deadline=clock["begin"] + APPLY_DAYS * DAY)
    stayed = due["left"].isna() | (due["left"] >= due["deadline"])
    due = due[stayed & (due["deadline"] <= ctx.now)]
    due = due.assign(hit=due["applied"].notna() & (due["applied"] <= due["deadline"]))
    timed = Timed(due, "deadline")

    def read(start: float, end: float) -> Reading:
        span = timed.between(start, end)
        n = int(span["hit"].sum())
        return Reading(percent(n, len(span)), n, len(span), span["member_id"].nunique())

    def make(group: pd.DataFrame, reason: str | None) -> dict[str, Any]:
        n = int(group["hit"].sum())
        return {} if reason else {"value": percent(n, len(group)), "of": len(group)}

    return assemble(
        ctx,
        id="applied_within_14_days",
        title=f"Applied within {APPLY_DAYS} days",
        unit="%",
        formula=f"Of every counted member and practice whose {APPLY_DAYS} days from the start "
        f"of the member's clock are over (and who was still a member then), the share where "
        f'the member said "I applied this" within those {APPLY_DAYS} days. {_RELEASE}',
        read=read,
        say=lambda r: (
            f"{r.value:g} % of members applied a practice within {APPLY_DAYS} days "
            f"of its release ({r.numerator:g} of {r.denominator:g} member-practice pairs)."
        ),
        empty=f"No practice has been out for {APPLY_DAYS} days yet.",
        to_date=True,
        breakdown=_per_practice(ctx, due, make),
    )
