"""Benchmark: search over 100,000 posts through the service.

Per database backend: a fresh migrated database seeded once (a cohort of 200 members with
tokens and 20 micro-prompts through the services layer; 100,000 posts, 1,000 artifacts and
their threads by bulk INSERT, so the database's triggers or generated columns build the
index as they would for any writer). Post text is drawn from a 6,000-word vocabulary with
Zipf-like frequencies, so the commonest words are in most posts. The prompts' threads hold
answers only (60 % of the members each; the benchmark's learner answered every other one),
so a search meets answers it may read and answers it may not. Each run copies the
database, starts ``nbcohort serve`` in its own process and sends queries one at a time on one
keep-alive connection as a learner (the filtered path: prompt rules, hidden posts): 50 to
warm up, then ``QUERIES`` timed, a mix of common, middling and rare words, two-word queries
and queries full of FTS syntax. Latency is the client's, per request; the service's CPU
time per request (psutil, over the timed queries) says what the work costs on a machine
shared with other jobs. Runs: median of each figure.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import benchlib as bl
import psutil

NAME = "search"
TARGET_P99_MS = 50.0
QUERIES = 600
CLASSES = {"common": 0.35, "middling": 0.35, "rare": 0.15, "two words": 0.10, "syntax": 0.05}
_BASE = [
    "the",
    "a",
    "to",
    "of",
    "and",
    "in",
    "is",
    "it",
    "for",
    "with",
    "this",
    "how",
    "data",
    "pandas",
    "groupby",
    "merge",
    "frame",
    "column",
    "index",
    "value",
    "csv",
    "plot",
    "join",
    "filter",
    "apply",
    "sort",
    "null",
    "dtype",
    "series",
    "read",
    "write",
]


def parameters(opts: Any) -> dict[str, Any]:
    return {
        "posts": 20_000 if opts.quick else 100_000,
        "members": 200,
        "queries_per_run": 200 if opts.quick else QUERIES,
        "mix": CLASSES,
        "viewer": "a learner (prompt rules and hidden posts filtered)",
        "kinds": "posts, threads and artifacts (three statements per request)",
        "runs": opts.runs,
        "backends": bl.backends(),
    }


def vocabulary(n: int = 6000, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    words = list(dict.fromkeys(_BASE))
    known = set(words)
    while len(words) < n:
        word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 10)))
        if word not in known:
            known.add(word)
            words.append(word)
    return words


def seed(url: str, posts_n: int, members_n: int) -> dict[str, Any]:
    from html import escape

    from sqlalchemy import select

    from nbcohort.cohorts.models import Member
    from nbcohort.cohorts.services.auth import Actor, mint_token
    from nbcohort.cohorts.services.cohort_registry import create_cohort
    from nbcohort.cohorts.services.prompts import sync_prompts
    from nbcohort.cohorts.services.roster import import_roster
    from nbcohort.cohorts.store import Store

    rng = random.Random(5)
    words = vocabulary()
    weights = [1 / (i + 1) for i in range(len(words))]
    system = Actor.system()
    t0 = time.perf_counter()
    store = Store.open(url, upgrade=True)
    try:
        with store.write() as s:
            cohort = create_cohort(s, system, "bench", "Search benchmark")
            import_roster(
                s,
                system,
                cohort,
                bl.synthetic_roster_csv(members_n, seed=9).encode(),
                filename="bench.csv",
            )
            sync_prompts(s, system, cohort, {f"day-{d}": f"Question {d}?" for d in range(1, 21)})
            members = list(s.scalars(select(Member).where(Member.cohort_id == cohort.id)))
            learner = next(m for m in members if m.role == "learner")
            token = mint_token(s, system, learner, "bench")
            cohort_id, member_ids = cohort.id, [m.id for m in members]
            learner_id = learner.id
        with store.engine.begin() as conn:
            d = conn.dialect.name
            now = datetime.now(UTC)
            anchors = [f"module-{m}/part-{p}" for m in range(1, 11) for p in range(1, 9)]
            anchors += [f"topic/{w}" for w in words[30:50]]
            anchors += [f"prompt/day-{k}" for k in range(1, 21)]
            bl.bulk_insert(
                conn,
                "thread",
                ["cohort_id", "anchor", "kind", "title", "created_at", "locked", "version"],
                [
                    (
                        cohort_id,
                        a,
                        a.split("/")[0] if a.startswith(("topic", "prompt")) else "section",
                        a.replace("/", " "),
                        bl.db_time(d, now),
                        False,
                        0,
                    )
                    for a in anchors
                ],
            )
            kinds = dict(
                conn.exec_driver_sql(
                    f"SELECT id, kind FROM thread WHERE cohort_id = {cohort_id}"
                ).fetchall()
            )
            threads = [t for t, kind in kinds.items() if kind != "prompt"]
            # Micro-prompt threads hold answers, one per member who answered (60 %); the
            # benchmark's learner answered every other prompt.
            answers = [
                (t, m)
                for i, t in enumerate(t for t, kind in kinds.items() if kind == "prompt")
                for m in member_ids
                if (m == learner_id and i % 2 == 0) or (m != learner_id and rng.random() < 0.6)
            ]
            places = answers + [
                (rng.choice(threads), rng.choice(member_ids)) for _ in range(posts_n - len(answers))
            ]
            rows = []
            for thread, author in places:
                text = " ".join(rng.choices(words, weights, k=rng.randint(8, 60)))
                hidden = rng.random() < 0.01
                rows.append(
                    (
                        thread,
                        author,
                        text,
                        f"<p>{escape(text)}</p>",
                        bl.db_time(d, now),
                        False,
                        hidden,
                        "",
                    )
                )
            bl.bulk_insert(
                conn,
                "post",
                [
                    "thread_id",
                    "author_id",
                    "body_md",
                    "body_html",
                    "created_at",
                    "deleted",
                    "hidden",
                    "hidden_reason",
                ],
                rows,
            )
            arts = [
                (
                    cohort_id,
                    rng.choice(member_ids),
                    " ".join(rng.choices(words, weights, k=4)),
                    " ".join(rng.choices(words, weights, k=30)),
                    '["pandas"]',
                    "MIT",
                    "nb.ipynb",
                    b"{}",
                    "0" * 64,
                    2,
                    "share",
                    bl.db_time(d, now),
                )
                for _ in range(1000)
            ]
            bl.bulk_insert(
                conn,
                "artifact",
                bl.ARTIFACT_COLUMNS,
                arts,
            )
        if store.engine.dialect.name == "postgresql":
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        store.close()
    return {"token": token, "seed_s": round(time.perf_counter() - t0, 1), "posts": posts_n}


def queries(n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` (class, query) pairs drawn from ``CLASSES``."""
    rng = random.Random(seed)
    words = vocabulary()
    content = [w for w in words if w not in _BASE[:12]]
    out = []
    for _ in range(n):
        kind = rng.choices(list(CLASSES), list(CLASSES.values()))[0]
        if kind == "common":
            q = rng.choice(content[:40])
        elif kind == "middling":
            q = rng.choice(content[40:1000])
        elif kind == "rare":
            q = rng.choice(content[1000:])
        elif kind == "two words":
            q = f"{rng.choice(content[:40])} {rng.choice(content[40:1000])}"
        else:
            w = rng.choice(content[:200])
            q = rng.choice([f'"{w}', f"{w}* -NEAR", f"({w} OR the)", f"{w} AND NOT x", '"*"'])
        out.append((kind, q))
    return out


def one_run(backend: str, template: str, seeded: dict[str, Any], n: int, count: int) -> dict:
    import requests
    from metrics_load import _status_mb
    from service_load import Service

    with tempfile.TemporaryDirectory(prefix="nbc-search-") as tmp_name:
        tmp = Path(tmp_name)
        with bl.clone_database(backend, template, tmp) as url:
            svc = Service(tmp, url).start()
            proc = psutil.Process(svc.pid)
            http = requests.Session()
            headers = {"Authorization": f"token {seeded['token']}"}
            by_class: dict[str, list[float]] = {k: [] for k in CLASSES}
            statuses: dict[int, int] = {}
            try:
                for _kind, q in queries(50, seed=1000 + n):  # warm-up
                    http.get(svc.base + "/api/v1/search", params={"q": q}, headers=headers)
                cpu = proc.cpu_times()
                started = cpu.user + cpu.system
                for kind, q in queries(count, seed=n):
                    t = time.perf_counter()
                    resp = http.get(
                        svc.base + "/api/v1/search", params={"q": q}, headers=headers, timeout=30
                    )
                    by_class[kind].append(1000 * (time.perf_counter() - t))
                    statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
                cpu = proc.cpu_times()
                service_cpu = cpu.user + cpu.system - started
                peak = _status_mb("VmHWM", svc.pid)
            finally:
                http.close()
                svc.stop()
    every = [x for xs in by_class.values() for x in xs]
    return {
        "run": n,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "p50_ms": round(statistics.median(every), 2),
        "p90_ms": round(bl.percentile(every, 90) or 0, 2),
        "p99_ms": round(bl.percentile(every, 99) or 0, 2),
        "max_ms": round(max(every), 2),
        "by_class_p99_ms": {k: round(bl.percentile(v, 99) or 0, 2) for k, v in by_class.items()},
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "service_cpu_ms_per_request": round(1000 * service_cpu / count, 2),
        "service_peak_rss_mb": peak,
    }


def run(opts: Any) -> tuple[dict[str, Any], str, bool]:
    params = parameters(opts)
    payload: dict[str, Any] = {"parameters": params, "target_p99_ms": TARGET_P99_MS, "backends": {}}
    rows = []
    for backend in params["backends"]:
        with (
            tempfile.TemporaryDirectory(prefix="nbc-seed-") as seed_tmp,
            bl.fresh_database(backend, Path(seed_tmp)) as template,
        ):
            seeded = seed(template, params["posts"], params["members"])
            size = _size(template)
            print(
                f"[bench] {NAME} {backend}: seeded in {seeded['seed_s']} s, {size} MB", flush=True
            )
            runs = []
            for n in range(1, opts.runs + 1):
                got = one_run(backend, template, seeded, n, params["queries_per_run"])
                print(f"[bench] {NAME} {backend} run {n}: {got}", flush=True)
                runs.append(got)
        med = bl.medians(runs)
        payload["backends"][backend] = {
            "seed_s": seeded["seed_s"],
            "database_mb": size,
            "median": med,
            "runs": runs,
        }
        rows.append(
            [
                backend,
                med["p50_ms"],
                med["p90_ms"],
                med["p99_ms"],
                med["max_ms"],
                med["by_class_p99_ms"]["common"],
                med["by_class_p99_ms"]["rare"],
                med["service_peak_rss_mb"],
                size,
            ]
        )
    text = bl.table(
        ["db", "p50 ms", "p90 ms", "p99 ms", "max ms", "common p99", "rare p99", "RSS MB", "db MB"],
        rows,
    )
    return payload, text, True


def _size(url: str) -> float | None:
    """The database's size on disk, in MB."""
    from sqlalchemy import create_engine

    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        return round(sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / bl.MB, 1)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            size = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
        return round((size or 0) / bl.MB, 1)
    finally:
        engine.dispose()
