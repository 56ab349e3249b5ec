"""Benchmark: every metric of a cohort of 1,000 members with 500,000 activity events.

Per database backend: one fresh migrated database, seeded once. The cohort, its roster,
practices and prompts go through the services layer; the history goes in by bulk INSERT
(COPY on PostgreSQL), in time order as a live log grows: twelve weeks of thread reads,
reactions, posts and replies, shared and reused artifacts, "I applied this", a peer-review
round with ratings, onboarding steps. Each run is a worker process of its own (its memory is
its own) that times ``services.metrics.cohort_metrics`` as staff see it (every metric, with
breakdowns and weekly trends): the first call, then the median of three more (wall time,
and the process's CPU time, which on SQLite includes the database's work), each split into
reading the frames and computing; its peak RSS, and its RSS before the first call.
Then the same through ``nbcohort serve``: GET /api/v1/metrics, first request and median of
five. ``python metrics_load.py --worker URL`` is the worker.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import benchlib as bl

NAME = "metrics"
SLUG = "bench"
TARGET_S = 1.0
WEEKS = 12
# The log's mix, as a share of the events (reads dominate a live community's log).
MIX = {"thread.read": 0.78, "post.react": 0.10, "post.create": 0.08, "other": 0.04}


def parameters(opts: Any) -> dict[str, Any]:
    return {
        "members": 200 if opts.quick else 1000,
        "events": 50_000 if opts.quick else 500_000,
        "weeks": WEEKS,
        "mix": MIX,
        "runs": opts.runs,
        "backends": bl.backends(),
        "view": "staff (every metric, breakdowns, weekly trends), window 28 days",
    }


def seed(url: str, members_n: int, events_n: int) -> dict[str, Any]:
    from sqlalchemy import select

    from nbcohort.cohorts.models import Member, clock_at
    from nbcohort.cohorts.services.auth import Actor
    from nbcohort.cohorts.services.cohort_registry import create_cohort
    from nbcohort.cohorts.services.practices import sync_practices
    from nbcohort.cohorts.services.prompts import sync_prompts
    from nbcohort.cohorts.services.roster import import_roster
    from nbcohort.cohorts.store import Store

    rng = random.Random(17)
    system = Actor.system()
    t0 = time.perf_counter()
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(weeks=WEEKS)
    store = Store.open(url, upgrade=True)
    try:
        with clock_at(start - timedelta(days=7)), store.write() as s:
            cohort = create_cohort(
                s,
                system,
                SLUG,
                "Metrics benchmark",
                timezone="Europe/Berlin",
                starts_on=start.date(),
            )
            roster = bl.synthetic_roster_csv(members_n, seed=3)
            import_roster(s, system, cohort, roster.encode(), filename="bench.csv")
            sync_practices(s, system, cohort, {f"practice-{i}": f"Practice {i}" for i in range(8)})
            sync_prompts(s, system, cohort, {f"day-{d}": f"Question {d}?" for d in range(1, 61)})
            cohort_id = cohort.id
        with store.read() as s:
            member_ids = list(s.scalars(select(Member.id).where(Member.cohort_id == cohort_id)))
        counts = _history(store, cohort_id, member_ids, start, end, events_n, rng)
        if store.engine.dialect.name == "postgresql":
            # what autovacuum does after a bulk load: without it the first runs measured its
            # catch-up (index-only scans fetching heap pages), 1.2-1.5 s instead of 0.5-0.6 s
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM ANALYZE")
    finally:
        store.close()
    return {"seed_s": round(time.perf_counter() - t0, 1), "cohort_id": cohort_id, **counts}


def _history(
    store: Any,
    cohort_id: int,
    members: list[int],
    start: datetime,
    end: datetime,
    events_n: int,
    rng: random.Random,
) -> dict[str, int]:
    """Twelve weeks of a cohort's life, written by bulk INSERT in time order."""
    span = (end - start).total_seconds()
    weight = [1.0 / (1 + i) ** 0.8 for i in range(len(members))]  # a few are very active
    rng.shuffle(weight)

    def when() -> datetime:
        return start + timedelta(seconds=rng.random() * span)

    def who() -> int:
        return rng.choices(members, weight)[0]

    with store.engine.begin() as conn:
        d = conn.dialect.name
        anchors = [f"module-{m}/part-{p}" for m in range(1, 9) for p in range(1, 7)]
        anchors += [f"prompt/day-{k}" for k in range(1, 61)]
        bl.bulk_insert(
            conn,
            "thread",
            ["cohort_id", "anchor", "kind", "title", "created_at", "locked", "version"],
            [
                (
                    cohort_id,
                    a,
                    "prompt" if a.startswith("prompt/") else "section",
                    a,
                    bl.db_time(d, start),
                    False,
                    0,
                )
                for a in anchors
            ],
        )
        thread_ids = [
            r[0]
            for r in conn.exec_driver_sql(
                f"SELECT id FROM thread WHERE cohort_id = {cohort_id} ORDER BY id"
            )
        ]
        n_posts = int(events_n * MIX["post.create"])
        post_rows, post_events = [], []
        first_post = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM post").scalar() or 0
        by_thread: dict[int, list[int]] = {}
        times = sorted(when() for _ in range(n_posts))
        for i, at in enumerate(times):
            pid = first_post + 1 + i
            thread = rng.choice(thread_ids)
            earlier = by_thread.setdefault(thread, [])
            parent = rng.choice(earlier) if earlier and rng.random() < 0.45 else None
            author = who()
            body = f"post {pid} about groupby and merge"
            post_rows.append(
                (
                    pid,
                    thread,
                    author,
                    parent,
                    body,
                    f"<p>{body}</p>",
                    bl.db_time(d, at),
                    False,
                    False,
                    "",
                )
            )
            post_events.append((at, author, "post.create", "post", pid))
            if parent is None:
                earlier.append(pid)
        bl.bulk_insert(
            conn,
            "post",
            [
                "id",
                "thread_id",
                "author_id",
                "parent_id",
                "body_md",
                "body_html",
                "created_at",
                "deleted",
                "hidden",
                "hidden_reason",
            ],
            post_rows,
        )
        if d == "postgresql":
            conn.exec_driver_sql("SELECT setval('post_id_seq', (SELECT max(id) FROM post))")
        other = _side_tables(conn, cohort_id, members, rng, when, who)
        events = post_events + other
        rest = events_n - len(events)
        reacts = int(events_n * MIX["post.react"])
        post_ids = [r[0] for r in post_rows]
        events += [
            (when(), who(), "post.react", "post", rng.choice(post_ids)) for _ in range(reacts)
        ]
        events += [
            (when(), who(), "thread.read", "thread", rng.choice(thread_ids))
            for _ in range(rest - reacts)
        ]
        events.sort(key=lambda e: e[0])
        data = '{"seeded": true}'
        bl.bulk_insert(
            conn,
            "activity",
            ["cohort_id", "member_id", "verb", "object_type", "object_id", "data", "at"],
            [
                (cohort_id, m, verb, kind, obj, data, bl.db_time(d, at))
                for at, m, verb, kind, obj in events
            ],
        )
    return {"posts": len(post_rows), "events": len(events), "threads": len(thread_ids)}


def _side_tables(
    conn: Any, cohort_id: int, members: list[int], rng: random.Random, when: Any, who: Any
) -> list[tuple[Any, ...]]:
    """Artifacts and reuses, applied practices, onboarding steps, a review round with
    ratings; returns their log events."""
    d = conn.dialect.name
    events: list[tuple[Any, ...]] = []
    arts = []
    for _ in range(1500):
        at, author = when(), who()
        arts.append(
            (
                cohort_id,
                author,
                "A notebook",
                "",
                "[]",
                "CC-BY-4.0",
                "nb.ipynb",
                b"{}",
                "0" * 64,
                2,
                "share",
                bl.db_time(d, at),
            )
        )
    bl.bulk_insert(
        conn,
        "artifact",
        bl.ARTIFACT_COLUMNS,
        arts,
    )
    art_ids = [
        r[0]
        for r in conn.exec_driver_sql(
            f"SELECT id, author_id FROM artifact WHERE cohort_id = {cohort_id} ORDER BY id"
        )
    ]
    pairs = {(rng.choice(art_ids), rng.choice(members)) for _ in range(4000)}
    reuse = [(a, m, bl.db_time(d, when())) for a, m in pairs]
    bl.bulk_insert(conn, "artifact_reuse", ["artifact_id", "member_id", "created_at"], reuse)
    applied = {(rng.choice(members), f"practice-{rng.randrange(8)}") for _ in range(3000)}
    bl.bulk_insert(
        conn,
        "applied_practice",
        ["cohort_id", "member_id", "practice", "note", "created_at", "updated_at"],
        [
            (cohort_id, m, p, "", bl.db_time(d, t), bl.db_time(d, t))
            for m, p in applied
            for t in [when()]
        ],
    )
    steps = [
        (m, step, rng.choice(["sent", "done", "done", "skipped"]), bl.db_time(d, when()))
        for m in members
        for step in ("welcome", "intro-post", "charter")
    ]
    bl.bulk_insert(conn, "onboarding_step", ["member_id", "step", "state", "at"], steps)
    due = when()
    conn.exec_driver_sql(
        "INSERT INTO review_round (cohort_id, assignment, status, reviewers_per_submission, "
        f"seed, due_at, opened_at, settings, folder) VALUES ({cohort_id}, 'project-1', 'closed', "
        f"3, 1, '{bl.db_time(d, due)}', '{bl.db_time(d, due - timedelta(days=7))}', '{{}}', '')"
    )
    round_id = conn.exec_driver_sql("SELECT max(id) FROM review_round").scalar()
    bl.bulk_insert(
        conn,
        "review_submission",
        ["round_id", "author_id", "kind", "snapshot", "sha256", "problems"],
        [(round_id, m, "peer", "", "", "[]") for m in members],
    )
    subs = [
        r[0]
        for r in conn.exec_driver_sql(
            f"SELECT id FROM review_submission WHERE round_id = {round_id} ORDER BY id"
        )
    ]
    allocs = [
        (
            round_id,
            members[(i + k) % len(members)],
            sub,
            "peer",
            "",
            "submitted",
            bl.db_time(d, due - timedelta(days=7)),
        )
        for i, sub in enumerate(subs)
        for k in (1, 2, 3)
    ]
    bl.bulk_insert(
        conn,
        "allocation",
        ["round_id", "reviewer_id", "submission_id", "kind", "packet", "status", "assigned_at"],
        allocs,
    )
    alloc_ids = [
        r[0]
        for r in conn.exec_driver_sql(
            f"SELECT id FROM allocation WHERE round_id = {round_id} ORDER BY id"
        )
    ]
    reviews = []
    for alloc_id in alloc_ids:
        if rng.random() < 0.85:
            at = due - timedelta(hours=rng.uniform(-12, 72))
            rating = rng.choice([None, 2, 3, 4, 5, 5])
            reviews.append(
                (alloc_id, "{}", "{}", "", False, bl.db_time(d, at), bl.db_time(d, at), rating)
            )
    bl.bulk_insert(
        conn,
        "review",
        [
            "allocation_id",
            "scores",
            "comments",
            "overall_comment",
            "draft",
            "submitted_at",
            "updated_at",
            "helpfulness",
        ],
        reviews,
    )
    events += [
        (when(), m, "artifact.share", "artifact", a)
        for a, m in zip(art_ids, [r[1] for r in arts], strict=True)
    ]
    events += [(when(), m, "artifact.reuse", "artifact", a) for a, m in pairs]
    events += [(when(), m, "practice.applied", "applied_practice", None) for m, _ in applied]
    events += [(when(), who(), "review.submit", "review", None) for _ in reviews]
    return events


def _status_mb(field: str, pid: int | str = "self") -> float:
    """A process's ``VmRSS`` or ``VmHWM`` (its peak since exec), in MB. Not getrusage or
    wait4: Linux keeps the parent's peak across exec, so those report the benchmark's own
    memory for a child smaller than it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def worker(url: str) -> dict[str, Any]:
    """Time the metrics in this process (run as ``--worker``): prints one JSON line."""
    from sqlalchemy import select

    from nbcohort.cohorts.config import MetricsSettings
    from nbcohort.cohorts.metrics import compute_metrics, load_frames
    from nbcohort.cohorts.models import Cohort
    from nbcohort.cohorts.services.auth import Actor
    from nbcohort.cohorts.services.metrics import cohort_metrics
    from nbcohort.cohorts.store import Store

    store = Store.open(url)
    settings = MetricsSettings()
    before = _status_mb("VmRSS")
    calls, loads, computes, cpus = [], [], [], []
    with store.read() as s:
        cohort = s.scalars(select(Cohort).where(Cohort.slug == SLUG)).one()
    for _ in range(4):
        with store.read() as s:
            t, c = time.perf_counter(), time.process_time()
            got = cohort_metrics(s, Actor.system(), cohort, settings=settings)
            calls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        now = time.time()
        with store.read() as s:
            t = time.perf_counter()
            frames = load_frames(s, cohort, now=now, days=28)
            loads.append(time.perf_counter() - t)
        t = time.perf_counter()
        compute_metrics(frames, days=28, now=now)
        computes.append(time.perf_counter() - t)
    store.close()
    ms = lambda xs: round(1000 * statistics.median(xs), 1)  # noqa: E731
    return {
        "first_call_ms": round(1000 * calls[0], 1),
        "warm_call_ms": ms(calls[1:]),
        "warm_call_cpu_ms": ms(cpus[1:]),
        "warm_read_frames_ms": ms(loads[1:]),
        "warm_compute_ms": ms(computes[1:]),
        "rows": {"touches": len(frames.touches), "posts": len(frames.posts)},
        "metrics": len(got["metrics"]),
        "rss_before_first_call_mb": before,
        "peak_rss_mb": _status_mb("VmHWM"),
    }


def _through_service(url: str, tmp: Path) -> dict[str, Any]:
    """GET /api/v1/metrics from a real ``nbcohort serve`` that computes every request
    (``cache_seconds=0``): first request, then median of 5; then one answered from the
    service's cache (the default, 60 s)."""
    import requests
    from service_load import Service
    from sqlalchemy import select

    from nbcohort.cohorts.models import Member
    from nbcohort.cohorts.services.auth import Actor, mint_token
    from nbcohort.cohorts.store import Store

    store = Store.open(url)
    with store.write() as s:
        staff = s.scalars(select(Member).where(Member.role == "instructor")).first()
        token = mint_token(s, Actor.system(), staff, "bench")
    store.close()
    headers = {"Authorization": f"token {token}"}
    out: dict[str, Any] = {}
    for cache in ("0", "60"):
        svc = Service(tmp, url)
        svc.args.append(f"--MetricsSettings.cache_seconds={cache}")
        svc.start()
        try:
            http = requests.Session()
            times = []
            for _ in range(6):
                t = time.perf_counter()
                resp = http.get(svc.base + "/api/v1/metrics", headers=headers, timeout=60)
                times.append(time.perf_counter() - t)
                resp.raise_for_status()
            http.close()
            peak = _status_mb("VmHWM", svc.pid)
        finally:
            svc.stop()
        if cache == "0":
            out.update(
                first_request_ms=round(1000 * times[0], 1),
                warm_request_ms=round(1000 * statistics.median(times[1:]), 1),
                service_peak_rss_mb=peak,
                answer_kb=round(len(resp.content) / 1024, 1),
            )
        else:
            out["cached_request_ms"] = round(1000 * statistics.median(times[1:]), 1)
    return out


def run(opts: Any) -> tuple[dict[str, Any], str, bool]:
    params = parameters(opts)
    payload: dict[str, Any] = {"parameters": params, "target_s": TARGET_S, "backends": {}}
    rows = []
    for backend in params["backends"]:
        with tempfile.TemporaryDirectory(prefix="nbc-metrics-") as tmp_name:
            tmp = Path(tmp_name)
            with bl.fresh_database(backend, tmp) as url:
                seeded = seed(url, params["members"], params["events"])
                print(f"[bench] {NAME} {backend}: seeded {seeded} ", flush=True)
                runs = []
                for n in range(1, opts.runs + 1):
                    out = subprocess.run(
                        [sys.executable, __file__, "--worker", url],
                        capture_output=True,
                        text=True,
                        timeout=600,
                    )
                    if out.returncode != 0:
                        raise RuntimeError(f"metrics worker failed:\n{out.stderr[-3000:]}")
                    got = json.loads(out.stdout.strip().splitlines()[-1])
                    got["service"] = _through_service(url, tmp)
                    print(f"[bench] {NAME} {backend} run {n}: {got}", flush=True)
                    runs.append(got)
        med = bl.medians(runs)
        payload["backends"][backend] = {"seeded": seeded, "median": med, "runs": runs}
        http = med["service"]
        rows.append(
            [
                backend,
                med["first_call_ms"],
                med["warm_call_ms"],
                med["warm_call_cpu_ms"],
                med["warm_read_frames_ms"],
                med["warm_compute_ms"],
                med["rss_before_first_call_mb"],
                med["peak_rss_mb"],
                http["first_request_ms"],
                http["warm_request_ms"],
                http["cached_request_ms"],
                http["service_peak_rss_mb"],
            ]
        )
    text = bl.table(
        [
            "db",
            "first ms",
            "warm ms",
            "warm CPU ms",
            "read ms",
            "compute ms",
            "RSS before MB",
            "peak RSS MB",
            "HTTP first ms",
            "HTTP warm ms",
            "HTTP cached ms",
            "serve RSS MB",
        ],
        rows,
    )
    return payload, text, True


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2])))
