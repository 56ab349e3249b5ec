"""The course's rhythm: peer reviews on time and found helpful, onboarding completed,
micro-prompts answered."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nbcohort.cohorts.metrics.context import Context, Timed
from nbcohort.cohorts.metrics.model import Metric, percent
from nbcohort.cohorts.metrics.reading import Reading, assemble

__all__ = [
    "onboarding_completion",
    "prompt_answer_rate",
    "review_helpfulness",
    "review_timeliness",
]


def review_timeliness(ctx: Context) -> Metric:
    r = ctx.frames.reviews
    live = r[
        (r["kind"] == "peer")
        & r["status"].isin(["assigned", "submitted"])
        & r["reviewer_id"].isin(ctx.counted.index)
        & r["due"].notna()
    ]
    live = live.assign(on_time=live["submitted"].notna() & (live["submitted"] <= live["due"]))
    timed = Timed(live, "due")

    def read(start: float, end: float) -> Reading:
        span = timed.between(start, min(end, ctx.now))
        n = int(span["on_time"].sum())
        return Reading(percent(n, len(span)), n, len(span), span["reviewer_id"].nunique())

    return assemble(
        ctx,
        id="review_timeliness",
        title="Peer reviews on time",
        unit="%",
        formula="Peer reviews due in the window (a reassigned review's own due date, else "
        "its round's; due by now) that were submitted by their due time, divided by the peer "
        "reviews due. Reviews moved to another reviewer or withdrawn, and rounds without a "
        "due date, are left out; reviewers are counted members.",
        read=read,
        say=lambda x: (
            f"{x.numerator:g} of {x.denominator:g} peer reviews ({x.value:g} %) "
            "were submitted on time."
        ),
        empty=f"No peer review was due in {ctx.window().label}.",
    )


def review_helpfulness(ctx: Context) -> Metric:
    r = ctx.frames.reviews
    rated = r[r["helpfulness"].notna() & r["reviewer_id"].isin(ctx.counted.index)]
    timed = Timed(rated.drop_duplicates(subset=["review_id"]), "rated_at")

    def read(start: float, end: float) -> Reading:
        span = timed.between(start, end)
        scores = span["helpfulness"].to_numpy(dtype="float64")
        mean = round(float(scores.mean()), 2) if len(scores) else None
        detail = {"helpful_share": percent(int((scores >= 4).sum()), len(scores))}
        return Reading(mean, None, len(scores), span["reviewer_id"].nunique(), detail)

    return assemble(
        ctx,
        id="review_helpfulness",
        title="Review helpfulness",
        unit="of 5 (mean)",
        formula="The mean of the 1-5 ratings authors gave the peer reviews of their work, "
        "over the ratings given in the window (a review's latest rating); "
        "``helpful_share``: the share rated 4 or 5. Reviewers are counted members.",
        read=read,
        say=lambda x: (
            f"Authors rated {x.denominator:g} reviews {x.value:g} of 5 on average; "
            f"{x.detail['helpful_share']:g} % rated them 4 or 5."
        ),
        empty=f"No review was rated in {ctx.window().label}.",
    )


def onboarding_completion(ctx: Context) -> Metric:
    steps = ctx.frames.onboarding
    steps = steps[steps["member_id"].isin(ctx.counted.index)]
    steps = steps.assign(done=steps["state"].isin(["done", "skipped"]))

    def read(_start: float, _end: float) -> Reading:
        n = int(steps["done"].sum())
        return Reading(percent(n, len(steps)), n, len(steps), steps["member_id"].nunique())

    breakdown: dict[str, Any] = {}
    for step, group in steps.groupby("step"):
        reason = ctx.withheld(group["member_id"].nunique())
        n = int(group["done"].sum())
        numbers = {} if reason else {"done": n, "of": len(group), "value": percent(n, len(group))}
        breakdown[str(step)] = {"withheld": reason, **numbers}
    return assemble(
        ctx,
        id="onboarding_completion",
        title="Onboarding steps completed",
        unit="%",
        formula="Onboarding steps that counted members completed (done, or skipped because "
        "they had done it before the step came), divided by the steps they were given.",
        read=read,
        say=lambda x: (
            f"{x.numerator:g} of {x.denominator:g} onboarding steps ({x.value:g} %) are completed."
        ),
        empty="No onboarding steps recorded yet.",
        to_date=True,
        trend=False,
        breakdown=breakdown,
    )


def prompt_answer_rate(ctx: Context) -> Metric:
    f, counted = ctx.frames, ctx.counted
    opened = f.prompts.dropna(subset=["opens"])
    posts = f.posts
    answers = posts[(posts["prompt"] != "") & (posts["parent_id"] == 0)]
    answers = answers[answers["deleted"].astype(int) == 0]
    joined = counted["joined"].to_numpy()
    left = counted["left"].to_numpy()
    by_prompt = answers.groupby("prompt")["author_id"].unique()
    rows = []
    for key, at in zip(opened["key"], opened["opens"], strict=True):
        here = (joined <= at) & (np.isnan(left) | (left > at))  # members when it opened
        who = counted.index.to_numpy()[here]
        mine = by_prompt.get(key, np.array([], dtype="int64"))
        rows.append((at, len(who), int(np.isin(who, mine).sum()), frozenset(who.tolist())))
    prompts = Timed(pd.DataFrame(rows, columns=["at", "eligible", "answered", "who"]))

    def read(start: float, end: float) -> Reading:
        span = prompts.between(start, min(end, ctx.now))
        people = set().union(*span["who"]) if len(span) else set()
        n, d = int(span["answered"].sum()), int(span["eligible"].sum())
        return Reading(percent(n, d), n, d, len(people), {"prompts": len(span)})

    return assemble(
        ctx,
        id="prompt_answer_rate",
        title="Micro-prompt answer rate",
        unit="%",
        formula="For the micro-prompts that opened in the window (a prompt without a date "
        "opens when it came into the cohort), the answers counted members gave (one per "
        "member and prompt, not deleted, answered by now), divided by the counted members "
        "who were members when each prompt opened.",
        read=read,
        say=lambda x: (
            f"{x.numerator:g} answers to {x.detail['prompts']} micro-prompts from "
            f"{x.denominator:g} possible ({x.value:g} %)."
        ),
        empty=f"No micro-prompt opened in {ctx.window().label}.",
    )
