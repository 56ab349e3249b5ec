"""Benchmark: first render of the discussion widget in a kernel, client round trip included.

A thread of 50 posts and one of 5,000 posts (a tenth of them replies), seeded through the
services layer; the real service in its own process; the widget built in this process, as a
kernel builds it. Reported per thread: median and p95 of first-render time over many renders
(a fresh connection each time, so every render pays the identity and page requests), the
posting round trip through the client, and the peak RSS of the service.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import benchlib as bl

NAME = "widget_render"
THREADS = {"module-1/fifty": 50, "module-1/five-thousand": 5000}


def seed(url: str) -> str:
    from nbcohort.cohorts.models import Member
    from nbcohort.cohorts.services import posts
    from nbcohort.cohorts.services.auth import Actor, mint_token
    from nbcohort.cohorts.services.cohort_registry import create_cohort
    from nbcohort.cohorts.services.roster import import_roster
    from nbcohort.cohorts.store import Store

    store = Store.open(url, upgrade=True)
    system = Actor.system()
    with store.write() as s:
        cohort = create_cohort(s, system, "bench", "Bench")
        import_roster(s, system, cohort, bl.synthetic_roster_csv(60, with_sponsors=False).encode())
        members = s.query(Member).filter_by(cohort_id=cohort.id, role="learner").all()
        token = mint_token(s, system, members[0])
        for anchor, n in THREADS.items():
            last_top = None
            for i in range(n):
                author = Actor.of(members[i % len(members)])
                parent = last_top if (i % 10 == 9 and last_top) else None
                post = posts.create_post(
                    s,
                    author,
                    cohort,
                    anchor,
                    f"Post {i}: try `df.groupby('team')['hours'].median()` on **your** data.",
                    parent_id=parent,
                )
                if parent is None:
                    last_top = post.id
                if i % 3 == 0:
                    posts.react(s, Actor.of(members[(i + 1) % len(members)]), post.id, "helpful")
    store.close()
    return token


def render_times(url: str, token: str, anchor: str, n: int) -> list[float]:
    from nbcohort.cohorts.client import CohortClient
    from nbcohort.widgets import _connection
    from nbcohort.widgets.discussion import Discussion

    times = []
    for _ in range(n):
        _connection.reset()
        client = CohortClient(url, token, timeout=10, retries=0)
        start = time.perf_counter()
        widget = Discussion(anchor, _connection.connect(client), expanded=True)
        times.append((time.perf_counter() - start) * 1000)
        assert widget.posts.children, "the widget rendered no posts"
        client.close()
    return times


def post_times(url: str, token: str, n: int) -> list[float]:
    from nbcohort.cohorts.client import CohortClient

    client = CohortClient(url, token, timeout=10)
    out = []
    for i in range(n):
        start = time.perf_counter()
        client.post("module-1/fifty", f"bench reply {i}")
        out.append((time.perf_counter() - start) * 1000)
    client.close()
    return out


def one_run(opts: Any, renders: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        url = f"sqlite:///{tmp / 'bench.sqlite'}"
        token = seed(url)
        port = bl.free_port()
        env = bl.isolated_env(tmp)
        proc = subprocess.Popen(
            bl.cli("serve", f"--db-url={url}", f"--port={port}", f"--data-dir={tmp}"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        service = f"http://127.0.0.1:{port}"
        try:
            bl.wait_until_serving(service + "/api/v1/health", proc)
            sampler = bl.RssSampler(proc.pid).start()
            result: dict[str, Any] = {}
            for anchor, size in THREADS.items():
                render_times(service, token, anchor, 2)  # warm the service's caches
                t = render_times(service, token, anchor, renders)
                result[f"render_{size}_posts"] = {
                    "median_ms": round(statistics.median(t), 1),
                    "p95_ms": round(bl.percentile(t, 95) or 0, 1),
                    "renders": len(t),
                }
            p = post_times(service, token, renders * 2)
            result["post_round_trip"] = {
                "median_ms": round(statistics.median(p), 1),
                "p99_ms": round(bl.percentile(p, 99) or 0, 1),
                "posts": len(p),
            }
            result["service_peak_rss_mb"] = sampler.stop()
            result["kernel_peak_rss_mb"] = bl.self_peak_rss_mb()
        finally:
            proc.terminate()
            proc.wait(10)
    return result


def run(opts: Any) -> tuple[dict[str, Any], str, bool]:
    os.environ.pop("NBGRADER_EXECUTION", None)
    renders = 5 if opts.quick else 20
    runs = [one_run(opts, renders) for _ in range(opts.runs)]
    med = bl.medians(runs)
    rows = [
        [
            f"{size} posts",
            med[f"render_{size}_posts"]["median_ms"],
            med[f"render_{size}_posts"]["p95_ms"],
        ]
        for size in THREADS.values()
    ]
    text = bl.table(["thread", "first render median ms", "p95 ms"], rows)
    text += (
        f"\npost round trip: median {med['post_round_trip']['median_ms']} ms, p99 "
        f"{med['post_round_trip']['p99_ms']} ms (one member); service peak RSS "
        f"{med['service_peak_rss_mb']} MB; kernel peak RSS {med['kernel_peak_rss_mb']} MB"
        "\n(targets: 50 posts < 150 ms, 5,000 posts < 300 ms to first page)"
    )
    payload = {
        "parameters": {
            "threads": THREADS,
            "renders_per_run": renders,
            "backend": "sqlite",
            "page_size": "service default (30 top-level posts and their replies)",
        },
        "targets": {"render_50_posts_ms": 150, "render_5000_posts_ms": 300},
        "runs_detail": runs,
        "median": med,
    }
    return payload, text, True
