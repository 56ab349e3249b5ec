"""The cohort's engagement metrics: pandas over the activity log and the tables.

Each metric is a formula in plain words with its window, computed for the window and for
each week of the cohort (weeks of its time zone). Members count by role (``MetricsSettings.
roles``); reads appear only as counts, never per person; a number about fewer than
``MetricsSettings.min_group`` members is withheld, with the reason. Who may see which
metrics is the services layer's decision (``services/metrics.py``).

    now = time.time()
    frames = load_frames(session, cohort, now=now, days=28)
    for metric in compute_metrics(frames, days=28, now=now):
        print(metric.id, metric.value, metric.summary)
"""

from __future__ import annotations

from collections.abc import Sequence

from nbcohort.cohorts.metrics.context import Context
from nbcohort.cohorts.metrics.conversation import (
    conversations,
    time_to_first_reply,
    unanswered_posts,
)
from nbcohort.cohorts.metrics.frames import Frames, load_frames
from nbcohort.cohorts.metrics.impact import (
    applied_within_14_days,
    artifact_reuse_rate,
    practice_clock,
    time_to_apply,
)
from nbcohort.cohorts.metrics.model import Metric, Point, Window
from nbcohort.cohorts.metrics.participation import (
    active_contributors,
    contributor_funnel,
    newcomer_conversion,
    posts_per_member_month,
)
from nbcohort.cohorts.metrics.rhythm import (
    onboarding_completion,
    prompt_answer_rate,
    review_helpfulness,
    review_timeliness,
)

__all__ = ["METRIC_IDS", "Frames", "Metric", "Point", "Window", "compute_metrics", "load_frames"]

METRIC_IDS = (
    "active_contributors",
    "posts_per_member_month",
    "newcomer_conversion",
    "contributor_funnel",
    "time_to_first_reply",
    "unanswered_posts",
    "artifact_reuse_rate",
    "time_to_apply",
    "applied_within_14_days",
    "review_timeliness",
    "review_helpfulness",
    "onboarding_completion",
    "prompt_answer_rate",
)


def compute_metrics(
    frames: Frames,
    *,
    days: int,
    now: float,
    roles: Sequence[str] = ("learner", "champion", "alumni"),
    min_group: int = 5,
) -> list[Metric]:
    """Every metric of the cohort in ``frames`` over the ``days`` before ``now`` (seconds
    since the epoch), in ``METRIC_IDS`` order; ``frames`` read for the same ``now`` and
    ``days`` (ValueError otherwise)."""
    if min_group < 3:
        raise ValueError("min_group is never below 3")
    ctx = Context(frames, now, days, tuple(roles), min_group)
    talks = conversations(ctx)
    clock = practice_clock(ctx)
    return [
        active_contributors(ctx),
        posts_per_member_month(ctx),
        newcomer_conversion(ctx),
        contributor_funnel(ctx),
        time_to_first_reply(ctx, talks),
        unanswered_posts(ctx, talks),
        artifact_reuse_rate(ctx),
        time_to_apply(ctx, clock),
        applied_within_14_days(ctx, clock),
        review_timeliness(ctx),
        review_helpfulness(ctx),
        onboarding_completion(ctx),
        prompt_answer_rate(ctx),
    ]
