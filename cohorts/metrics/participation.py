"""Who takes part: active contributors, posts per member, newcomers who convert, and the
contributor funnel. Reads appear here only as counts of members, never per person."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nbcohort.cohorts.metrics.context import DAY, Context, Timed
from nbcohort.cohorts.metrics.frames import REACT, READ
from nbcohort.cohorts.metrics.model import Metric, percent
from nbcohort.cohorts.metrics.reading import Reading, assemble

__all__ = [
    "CONTRIBUTED",
    "active_contributors",
    "contributor_funnel",
    "newcomer_conversion",
    "posts_per_member_month",
]

CONTRIBUTED = "wrote a post (a reply and a micro-prompt answer are posts), submitted a peer "
CONTRIBUTED += "review or shared an artifact"
NEWCOMER_DAYS = 14
CHAMPION_REPLIES = 2  # a champion replied to posts of at least this many other members


def _roles(ctx: Context) -> str:
    return ", ".join(ctx.roles) or "no role"


def _members(ctx: Context) -> str:
    return f"members whose role is {_roles(ctx)} (their current role)"


def _contributors(ctx: Context, start: float, end: float) -> np.ndarray:
    return ctx.contributions.between(start, end)["member_id"].unique()


def active_contributors(ctx: Context) -> Metric:
    def read(start: float, end: float) -> Reading:
        members = ctx.population(start, end)
        n = int(np.isin(_contributors(ctx, start, end), members).sum())
        return Reading(percent(n, len(members)), n, len(members), len(members))

    return assemble(
        ctx,
        id="active_contributors",
        title="Active contributors",
        unit="%",
        formula=f"Members who {CONTRIBUTED} in the window, divided by the members of the "
        f"cohort at any time in the window; both count {_members(ctx)}.",
        read=read,
        say=lambda r: (
            f"{r.numerator:g} of {r.denominator:g} members ({r.value:g} %) "
            f"contributed in {ctx.window().label}."
        ),
        empty=f"No members in {ctx.window().label}: nothing to measure yet.",
    )


def posts_per_member_month(ctx: Context) -> Metric:
    posts = Timed(ctx.frames.posts)

    def read(start: float, end: float) -> Reading:
        members = ctx.population(start, end)
        days = (min(end, ctx.now) - start) / DAY
        span = posts.between(start, end)
        n = int(span["author_id"].isin(members).sum())
        value = round(n / len(members) * 30 / days, 2) if len(members) and days > 0 else None
        return Reading(value, n, len(members), len(members))

    return assemble(
        ctx,
        id="posts_per_member_month",
        title="Posts per member per month",
        unit="posts per member per 30 days",
        formula="Posts written in the window (replies and micro-prompt answers included) by "
        f"{_members(ctx)}, divided by those members, scaled to 30 days "
        "(× 30 / the window's days).",
        read=read,
        say=lambda r: (
            f"{r.value:g} posts per member per 30 days ({r.numerator:g} posts by "
            f"{r.denominator:g} members in {ctx.window().label})."
        ),
        empty=f"No members in {ctx.window().label}: nothing to measure yet.",
    )


def newcomer_conversion(ctx: Context) -> Metric:
    counted = ctx.counted
    arrival = np.maximum(counted["joined"].to_numpy(dtype="float64"), ctx.frames.start)
    arrived = pd.Series(arrival, index=counted.index)
    deadline = arrived + NEWCOMER_DAYS * DAY
    c = ctx.contributions.frame
    arrival_of = c["member_id"].map(arrived)
    early = c[(c["at"] >= arrival_of) & (c["at"] < arrival_of + NEWCOMER_DAYS * DAY)]
    converted = set(early["member_id"].unique())

    def read(start: float, end: float) -> Reading:
        due = deadline[(deadline >= start) & (deadline < end) & (deadline <= ctx.now)]
        n = sum(1 for member in due.index if member in converted)
        return Reading(percent(n, len(due)), n, len(due), len(due))

    return assemble(
        ctx,
        id="newcomer_conversion",
        title="Newcomer conversion",
        unit="%",
        formula=f"Of the {_members(ctx)} whose first {NEWCOMER_DAYS} days ended in the window, "
        f"the share who {CONTRIBUTED} within those {NEWCOMER_DAYS} days. A member's first day "
        "is when they joined, or the cohort's start if they joined before it.",
        read=read,
        say=lambda r: (
            f"{r.numerator:g} of {r.denominator:g} newcomers ({r.value:g} %) "
            f"contributed within their first {NEWCOMER_DAYS} days."
        ),
        empty=f"No member's first {NEWCOMER_DAYS} days ended in {ctx.window().label}.",
    )


def contributor_funnel(ctx: Context) -> Metric:
    touches = ctx.frames.touches
    posts = ctx.frames.posts
    author_of = posts.set_index("id")["author_id"] if len(posts) else pd.Series(dtype="int64")
    replies = posts[posts["parent_id"] > 0]
    replies = replies.assign(to=replies["parent_id"].map(author_of))
    replies = Timed(replies[replies["to"].notna() & (replies["to"] != replies["author_id"])])

    def read(start: float, end: float) -> Reading:
        members = ctx.population(start, end)
        readers = set(touches.who(READ, start, end).tolist())
        reactors = set(touches.who(REACT, start, end).tolist())
        contributors = set(_contributors(ctx, start, end).tolist())
        helped = replies.between(start, end).groupby("author_id")["to"].nunique()
        champions = set(helped.index[helped >= CHAMPION_REPLIES]) & contributors
        reactors |= contributors
        readers |= reactors
        inside = set(members.tolist())
        stages: dict[str, int | None] = {
            "members": len(members),
            "reader": len(readers & inside),
            "reactor": len(reactors & inside),
            "contributor": len(contributors & inside),
            "champion": len(champions & inside),
        }
        n, d = len(contributors & inside), len(readers & inside)
        # Members who neither reacted nor contributed are the ones a read count is about:
        # when they are a few, the count tells which of them read (one more reader, and the
        # one quiet member has read). Their reads, and what is worked out from them, go.
        quiet = len(inside - reactors)
        if ctx.withheld(quiet) is not None:
            stages["reader"] = None
            return Reading(None, n, None, len(members), stages)
        return Reading(percent(n, d), n, d, len(members), stages)

    return assemble(
        ctx,
        id="contributor_funnel",
        title="Contributor funnel",
        unit="% of readers who contributed",
        formula=f"Each of the {_members(ctx)} is placed at the furthest stage they reached "
        "in the span, and counted in every stage before it: reader (read a thread), reactor "
        f"(reacted to a post), contributor ({CONTRIBUTED}), champion (a contributor who "
        f"replied to posts of at least {CHAMPION_REPLIES} other members). The value is "
        "contributors / readers. Reads are counted in aggregate only, never per person: "
        f"when fewer than {ctx.min_group} members neither reacted nor contributed, the "
        "readers (and the value) are withheld, since the count would tell which of those "
        "few read.",
        read=read,
        say=lambda r: (
            f"Of {r.detail['members']} members, {r.detail['reader']} read, "
            f"{r.detail['reactor']} reacted or more, {r.detail['contributor']} contributed and "
            f"{r.detail['champion']} helped others as champions in {ctx.window().label}."
        ),
        empty=lambda r: _funnel_without_value(ctx, r),
    )


def _funnel_without_value(ctx: Context, r: Reading) -> str:
    label = ctx.window().label
    if not r.group:
        return f"No members in {label}: nothing to measure yet."
    if r.detail.get("reader") is None:
        return (
            f"Of {r.detail['members']} members, {r.detail['reactor']} reacted or more, "
            f"{r.detail['contributor']} contributed and {r.detail['champion']} helped others "
            f"as champions in {label}. Reads are withheld: fewer than {ctx.min_group} members "
            "did neither, and a count of readers could tell which of them read."
        )
    return f"No member read a thread in {label}."
