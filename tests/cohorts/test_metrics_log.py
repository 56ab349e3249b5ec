"""The log as the metrics read it (cohorts/metrics/log.py): the database puts each read and
reaction in its span of time, and what it answers must be what the rows say. Checked on
SQLite and PostgreSQL against a recomputation in Python from the rows themselves (read back
through the ORM), with events exactly on every bound and a millisecond either side, a DST
change inside the trend, rows of staff and rows without a member."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from nbcohort.cohorts.metrics import compute_metrics, load_frames
from nbcohort.cohorts.metrics.frames import REACT, READ
from nbcohort.cohorts.models import Activity
from nbcohort.cohorts.store import Store
from tests.helpers.timeline import Timeline, utc

VERBS = {"thread.read": READ, "post.react": REACT}


def _frames(t: Timeline, now: float, days: int):
    with t.store.read() as s:
        return load_frames(s, s.merge(t.cohort), now=now, days=days)


@pytest.mark.parametrize("days", [28, 1])
def test_reads_and_reactions_per_span_are_what_the_rows_say(store: Store, days: int) -> None:
    t = Timeline(store)  # New York: clocks go forward on 2026-03-08, inside the trend
    names = [f"m{i}" for i in range(9)]
    t.join("2026-02-25 12:00", *names)
    t.join("2026-02-25 12:00", "fay", role="facilitator")
    now = utc("2026-04-02 15:30").timestamp()
    bounds = _frames(t, now, days).touches.bounds
    assert len(bounds) >= 6 and now in bounds and now - days * 86_400 in bounds
    rng = random.Random(days)
    ids = [t.members[n].id for n in [*names, "fay"]] + [None]  # a row without a member
    times = [b + d for b in bounds for d in (-1.0, -0.001, 0.0, 0.001)]
    times += [rng.uniform(bounds[0] - 5 * 86_400, now + 86_400) for _ in range(300)]
    rows = [
        {
            "cohort_id": t.cohort.id,
            "member_id": rng.choice(ids),
            "verb": rng.choice(list(VERBS)),
            "object_type": "thread",
            "data": {},
            "at": datetime.fromtimestamp(at, UTC),
        }
        for at in times
    ]
    with store.write() as s:
        s.execute(insert(Activity), rows)
    with store.read() as s:
        logged = [
            (m, VERBS[v], a.timestamp())
            for m, v, a in s.execute(select(Activity.member_id, Activity.verb, Activity.at))
            if v in VERBS and m is not None
        ]
    touches = _frames(t, now, days).touches
    assert (touches.bounds == bounds).all()
    checked = 0
    for i, start in enumerate(bounds):
        for end in bounds[i:]:
            for kind in (READ, REACT):
                expected = sorted({m for m, k, at in logged if k == kind and start <= at < end})
                assert touches.who(kind, start, end).tolist() == expected, (start, end, kind)
                checked += len(expected)
    assert checked > 100  # the spans held something to compare


def test_metrics_refuse_frames_read_for_another_window(store: Store) -> None:
    t = Timeline(store)
    t.join("2026-02-25 12:00", "a", "b", "c", "d", "e")
    now = utc("2026-03-20 12:00")
    frames = _frames(t, now.timestamp(), 28)
    assert len(compute_metrics(frames, days=28, now=now.timestamp())) == 13
    later = (now + timedelta(hours=1)).timestamp()
    for days, at in ((7, now.timestamp()), (28, later)):
        with pytest.raises(ValueError, match="read the frames with the now and days"):
            compute_metrics(frames, days=days, now=at)
