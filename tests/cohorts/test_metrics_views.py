"""Who sees which metrics: the services layer decides (staff everything, members the
cohort's aggregates, sponsors the leader set), and nobody sees another cohort's."""

from __future__ import annotations

import pytest

from nbcohort.cohorts.config import MetricsSettings
from nbcohort.cohorts.metrics import METRIC_IDS
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.errors import Invalid, NotFound
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.services.metrics import cohort_metrics
from nbcohort.cohorts.store import Store
from tests.helpers.community import SYSTEM


def seen(store: Store, who: Member | Actor, cohort: Cohort, **kw: object) -> dict:
    actor = who if isinstance(who, Actor) else Actor.of(who)
    with store.read() as s:
        return cohort_metrics(s, actor, s.merge(cohort), **kw)  # type: ignore[arg-type]


def test_views_by_role(store, cohort, people):
    staff = seen(store, people["fay"], cohort)
    assert staff["view"] == "staff" and [m["id"] for m in staff["metrics"]] == list(METRIC_IDS)
    assert seen(store, SYSTEM, cohort)["view"] == "staff"
    for who in ("ana", "chi"):
        mine = seen(store, people[who], cohort)
        assert mine["view"] == "cohort" and len(mine["metrics"]) == len(METRIC_IDS)
        assert all(m["breakdown"] == {} for m in mine["metrics"])
    leader = seen(store, people["sam"], cohort)
    assert leader["view"] == "leader"
    assert [m["id"] for m in leader["metrics"]] == [
        i for i in METRIC_IDS if i in MetricsSettings().leader_metrics
    ]
    chosen = MetricsSettings(leader_metrics=["artifact_reuse_rate"])
    only = seen(store, people["sam"], cohort, settings=chosen)
    assert [m["id"] for m in only["metrics"]] == ["artifact_reuse_rate"]


def test_another_cohort_is_not_found_and_the_window_is_checked(store, cohort, people):
    with store.write() as s:
        other = create_cohort(s, SYSTEM, "other", "Other")
        zed = add_member(s, SYSTEM, other, name="Zed", email="z@x.org", username="zed")
        s.flush()
        outsider = Actor.of(zed)
    with pytest.raises(NotFound):
        seen(store, outsider, cohort)
    for bad in (0, 367, -5, True, "28"):
        with pytest.raises(Invalid) as info:
            seen(store, people["fay"], cohort, window_days=bad)
        assert info.value.field == "window"
    week = seen(store, people["ana"], cohort, window_days=7)
    assert week["window_days"] == 7
    assert {m["window"]["days"] for m in week["metrics"]} == {7, None}


def test_the_roles_that_count_are_a_setting(store, cohort, people):
    learners = MetricsSettings(roles=["learner"], min_group=3)
    got = seen(store, people["fay"], cohort, settings=learners)
    active = next(m for m in got["metrics"] if m["id"] == "active_contributors")
    assert active["withheld"] is not None  # two learners (ana, ben): fewer than 3
    everyone = MetricsSettings(roles=["learner", "champion", "facilitator"], min_group=3)
    got = seen(store, people["fay"], cohort, settings=everyone)
    active = next(m for m in got["metrics"] if m["id"] == "active_contributors")
    assert active["denominator"] == 4 and "facilitator" in active["formula"]


def test_the_service_keeps_a_view_for_cache_seconds(store, cohort, people):
    from datetime import timedelta

    from nbcohort.cohorts.models import clock_at, utcnow
    from nbcohort.cohorts.services.metrics import MetricsCache

    cache, settings = MetricsCache(), MetricsSettings(cache_seconds=60)
    first = seen(store, people["fay"], cohort, settings=settings, cache=cache)
    with clock_at(utcnow() + timedelta(minutes=5)):
        again = seen(store, people["fay"], cohort, settings=settings, cache=cache)
        assert again is first  # kept: the same answer, computed_at and all
        learner = seen(store, people["ana"], cohort, settings=settings, cache=cache)
        assert learner["view"] == "cohort"  # a view is never served to another role
        fresh = seen(store, people["fay"], cohort, settings=MetricsSettings(cache_seconds=0),
                     cache=MetricsCache())  # fmt: skip
        assert fresh["computed_at"] > first["computed_at"]
