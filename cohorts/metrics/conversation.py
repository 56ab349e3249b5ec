"""Whether questions get answers: time to first reply and unanswered posts.

A conversation is a top-level post in a course section's or a topic's thread (not an answer
to a micro-prompt), not deleted, by a counted member; its first reply is the earliest reply,
not deleted, by anyone else (staff replies count: someone answered).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nbcohort.cohorts.metrics.context import Context, Timed
from nbcohort.cohorts.metrics.model import Metric, percent
from nbcohort.cohorts.metrics.reading import Reading, assemble, quartiles

__all__ = ["conversations", "time_to_first_reply", "unanswered_posts"]

UNANSWERED_HOURS = 48
HOUR = 3600.0


def conversations(ctx: Context) -> Timed:
    """Conversations (author_id, at) with ``reply``: when another member first replied
    (NaN: nobody has)."""
    posts = ctx.frames.posts
    live = posts[posts["deleted"].astype(int) == 0]
    top = live[(live["parent_id"] == 0) & (live["prompt"] == "")]
    top = top[top["author_id"].isin(ctx.counted.index)]
    replies = live[live["parent_id"] > 0]
    parent_author = top.set_index("id")["author_id"]
    replies = replies[replies["parent_id"].isin(parent_author.index)]
    by_others = replies[replies["author_id"].to_numpy() != replies["parent_id"].map(parent_author)]
    first = by_others.groupby("parent_id")["at"].min()
    return Timed(
        pd.DataFrame(
            {
                "author_id": top["author_id"].to_numpy(),
                "at": top["at"].to_numpy(dtype="float64"),
                "reply": top["id"].map(first).to_numpy(dtype="float64"),
            }
        )
    )


_WHAT = (
    "A conversation is a top-level post in a section's or a topic's thread (not a "
    "micro-prompt answer, not deleted) by a counted member; its first reply is the earliest "
    "reply by anyone else that is not deleted."
)


def time_to_first_reply(ctx: Context, talks: Timed) -> Metric:
    def read(start: float, end: float) -> Reading:
        span = talks.between(start, end)
        answered = span.dropna(subset=["reply"])
        hours = (answered["reply"] - answered["at"]).to_numpy() / HOUR
        q = quartiles(hours)
        within = int((hours <= 24).sum())
        detail = {**q, "answered": len(answered), "within_24_hours": percent(within, len(hours))}
        return Reading(q["median"], None, len(answered), span["author_id"].nunique(), detail)

    return assemble(
        ctx,
        id="time_to_first_reply",
        title="Time to first reply",
        unit="hours (median)",
        formula="For the conversations started in the window that got a reply, the median "
        "of the hours from the post to its first reply (quartiles beside it). " + _WHAT,
        read=read,
        say=lambda r: (
            f"Half of the {r.denominator:g} conversations that got a reply got it "
            f"within {r.value:g} hours (middle half: {r.detail['p25']:g} to {r.detail['p75']:g} h)."
        ),
        empty=f"No conversation started in {ctx.window().label} has a reply yet.",
    )


def unanswered_posts(ctx: Context, talks: Timed) -> Metric:
    grace = UNANSWERED_HOURS * HOUR

    def read(start: float, end: float) -> Reading:
        span = talks.between(start, min(end, ctx.now - grace))
        late = np.isnan(span["reply"].to_numpy()) | (
            span["reply"].to_numpy() - span["at"].to_numpy() > grace
        )
        n, d = int(late.sum()), len(span)
        detail = {"still_unanswered": int(span["reply"].isna().sum())}
        return Reading(percent(n, d), n, d, span["author_id"].nunique(), detail)

    return assemble(
        ctx,
        id="unanswered_posts",
        title=f"Unanswered after {UNANSWERED_HOURS} hours",
        unit="%",
        formula=f"Of the conversations started in the window at least {UNANSWERED_HOURS} "
        f"hours ago, the share with no reply within {UNANSWERED_HOURS} hours "
        "(``still_unanswered``: those with no reply at all yet). " + _WHAT,
        read=read,
        say=lambda r: (
            f"{r.numerator:g} of {r.denominator:g} conversations ({r.value:g} %) had "
            f"no reply within {UNANSWERED_HOURS} hours; {r.detail['still_unanswered']} still have "
            "none."
        ),
        empty=f"No conversation started in {ctx.window().label} is "
        f"{UNANSWERED_HOURS} hours old yet.",
    )
