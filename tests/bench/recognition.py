"""Benchmark: badge backfill over 1,000 members and 500,000 activity events, and champion
suggestion over 10,000 members.

Per database backend. Backfill: the metrics benchmark's cohort (``metrics_load.seed``: a
roster through the services layer, twelve weeks of history by bulk INSERT), plus 10,000
"helpful" reactions and 2,000 review ratings so every badge rule has something to find.
Each run is a worker process on a fresh copy of that database: it times the first backfill
(every rule over the whole log, awarding everything due: ``nbcohort badges backfill``), then
a second one (nothing new to award: the idempotent case a changed rule costs), and reports
its peak RSS. Suggestion: a cohort of 10,000 members in 60 teams with 200,000 events; the
worker times ``suggest_champions(count=12)`` (first call, then median of three).
``python recognition.py --worker backfill|suggest URL`` is the worker.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchlib as bl
import metrics_load as ml

NAME = "recognition"
BACKFILL_TARGET_S = 5.0
SUGGEST_TARGET_S = 2.0
TEAMS = 60


def parameters(opts: Any) -> dict[str, Any]:
    return {
        "backfill_members": 200 if opts.quick else 1000,
        "backfill_events": 50_000 if opts.quick else 500_000,
        "suggest_members": 1000 if opts.quick else 10_000,
        "suggest_events": 20_000 if opts.quick else 200_000,
        "teams": TEAMS,
        "runs": opts.runs,
        "backends": bl.backends(),
    }


def _signals(url: str, cohort_id: int, helpful: int, ratings: int, teams: int) -> None:
    """Helpful reactions on replies and review ratings in the log; ``teams`` teams."""
    from sqlalchemy import text

    from nbcohort.cohorts.store import Store

    rng = random.Random(5)
    store = Store.open(url)
    try:
        with store.engine.begin() as conn:
            d = conn.dialect.name
            replies = [
                r[0] for r in conn.execute(text("SELECT id FROM post WHERE parent_id IS NOT NULL"))
            ]
            members = [
                r[0]
                for r in conn.execute(
                    text("SELECT id FROM member WHERE cohort_id = :c"), {"c": cohort_id}
                )
            ]
            reviews = [r[0] for r in conn.execute(text("SELECT id FROM review"))]
            now = bl.db_time(d, ml.datetime.now(ml.UTC))
            rows = [
                (cohort_id, rng.choice(members), "post.react", "post", rng.choice(replies),
                 '{"kind": "helpful"}', now)
                for _ in range(helpful)
            ]  # fmt: skip
            rows += [
                (cohort_id, rng.choice(members), "review.rate", "review", rng.choice(reviews),
                 json.dumps({"helpfulness": rng.randint(1, 5)}), now)
                for _ in range(ratings if reviews else 0)
            ]  # fmt: skip
            bl.bulk_insert(
                conn,
                "activity",
                ["cohort_id", "member_id", "verb", "object_type", "object_id", "data", "at"],
                rows,
            )
            conn.execute(
                text(f"UPDATE member SET team = 'team-' || CAST(id % {teams} AS TEXT) "
                     "WHERE cohort_id = :c"),
                {"c": cohort_id},
            )  # fmt: skip
    finally:
        store.close()


def worker(kind: str, url: str) -> dict[str, Any]:
    """Time one kind of work in this process (run as ``--worker``): one JSON line."""
    from sqlalchemy import func, select

    from nbcohort.cohorts.models import BadgeAward, Cohort
    from nbcohort.cohorts.services.auth import Actor
    from nbcohort.cohorts.services.badges import award_badges
    from nbcohort.cohorts.services.champions import suggest_champions
    from nbcohort.cohorts.store import Store

    store = Store.open(url)
    with store.read() as s:
        cohort = s.scalars(select(Cohort).where(Cohort.slug == ml.SLUG)).one()
    out: dict[str, Any] = {}
    if kind == "backfill":
        times = []
        for _ in range(2):
            with store.write() as s:
                t = time.perf_counter()
                awarded = award_badges(s, s.merge(cohort))
                times.append(time.perf_counter() - t)
            out.setdefault("awarded_first", sum(awarded.values()))
        with store.read() as s:
            out["awards"] = s.scalar(select(func.count()).select_from(BadgeAward))
        out.update(
            first_backfill_s=round(times[0], 2),
            second_backfill_s=round(times[1], 2),
            awarded_second=sum(awarded.values()),
        )
    else:
        times = []
        for _ in range(4):
            with store.read() as s:
                t = time.perf_counter()
                picks = suggest_champions(s, Actor.system(), s.merge(cohort), 12)
                times.append(time.perf_counter() - t)
        out.update(
            first_suggest_s=round(times[0], 3),
            warm_suggest_s=round(statistics.median(times[1:]), 3),
            picks=len(picks),
            teams_covered=len({p.team for p in picks}),
        )
    store.close()
    out["peak_rss_mb"] = ml._status_mb("VmHWM")
    return out


def _runs(kind: str, template: str, backend: str, tmp: Path, n: int) -> list[dict[str, Any]]:
    runs = []
    for i in range(1, n + 1):
        with bl.clone_database(backend, template, tmp) as url:
            out = subprocess.run(
                [sys.executable, __file__, "--worker", kind, url],
                capture_output=True,
                text=True,
                timeout=900,
            )
        if out.returncode != 0:
            raise RuntimeError(f"{kind} worker failed:\n{out.stderr[-3000:]}")
        got = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"[bench] {NAME} {backend} {kind} run {i}: {got}", flush=True)
        runs.append(got)
    return runs


def run(opts: Any) -> tuple[dict[str, Any], str, bool]:
    params = parameters(opts)
    payload: dict[str, Any] = {
        "parameters": params,
        "targets_s": {"backfill": BACKFILL_TARGET_S, "suggest": SUGGEST_TARGET_S},
        "backends": {},
    }
    rows, good = [], True
    for backend in params["backends"]:
        result: dict[str, Any] = {}
        with tempfile.TemporaryDirectory(prefix="nbc-recognition-") as tmp_name:
            tmp = Path(tmp_name)
            for kind, members, events in (
                ("backfill", params["backfill_members"], params["backfill_events"]),
                ("suggest", params["suggest_members"], params["suggest_events"]),
            ):
                with bl.fresh_database(backend, tmp) as url:
                    seeded = ml.seed(url, members, events)
                    _signals(url, seeded["cohort_id"], events // 50, events // 250, TEAMS)
                    print(f"[bench] {NAME} {backend} {kind}: seeded {seeded}", flush=True)
                    runs = _runs(kind, url, backend, tmp, opts.runs)
                result[kind] = {"seeded": seeded, "median": bl.medians(runs), "runs": runs}
        payload["backends"][backend] = result
        b, s = result["backfill"]["median"], result["suggest"]["median"]
        good = good and all(r["awarded_second"] == 0 for r in result["backfill"]["runs"])
        rows.append(
            [
                backend,
                b["first_backfill_s"],
                b["second_backfill_s"],
                b["awarded_first"],
                b["peak_rss_mb"],
                s["first_suggest_s"],
                s["warm_suggest_s"],
                s["teams_covered"],
                s["peak_rss_mb"],
            ]
        )
    text = bl.table(
        [
            "db",
            "backfill s",
            "again s",
            "awarded",
            "backfill RSS MB",
            "suggest first s",
            "suggest warm s",
            "teams",
            "suggest RSS MB",
        ],
        rows,
    )
    return payload, text, good


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2], sys.argv[3])))
