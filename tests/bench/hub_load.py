"""Benchmark: 1,000 learners against ``nbcohort serve`` in hub mode, on PostgreSQL.

A real JupyterHub (tests/helpers/hub.py: DummyAuthenticator, configurable-http-proxy, the
shipped example's roles and scopes) with the service registered as an external hub service;
1,000 hub users and one token each, made through the hub's REST API as an administrator's
script would; the roster imported with the same usernames. The service authenticates every
request through HubAuth (``auth_cache_seconds`` = 10 s, the example's value), in its own
process; the load generator (hub_loadgen.py) in another. Concurrency is stepped up (50, 200,
1,000 learners, each acting every ``think_mean_s`` on average and holding a live watch) on
one service, so the step where throughput stops following the offered load and p99 climbs
is where one service process saturates. Afterwards every acknowledged post must be in the
database exactly once (service_figures.verify).

``python tests/bench/run.py --only hub_load [--quick]``; needs NBCOHORT_TEST_DB_URL
(PostgreSQL), jupyterhub and configurable-http-proxy (``dev.ensure_node_tools()``).
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchlib as bl
from service_figures import lat_stats, verify
from service_load import ANCHORS

from tests.helpers.hub import HubProcess, find_proxy, hub_service

NAME = "hub_load"
STEPS = [50, 200, 1000]
MIX = {"read": 0.45, "notifications": 0.2, "post": 0.1, "react": 0.1, "page": 0.15}
CACHE_SECONDS = 10.0


def parameters(opts: Any) -> dict[str, Any]:
    return {
        "learners": max(STEPS),
        "steps": STEPS,
        "step_duration_s": 10 if opts.quick else 30,
        "think_time": "exponential, mean 1 s, before every action",
        "think_mean_s": 1.0,
        "mix": MIX,
        "page": "the cohort page's six calls in a row, each timed as its own route",
        "watch": "every learner also holds a live watch (25 s wait), asked again at once",
        "auth": f"hub tokens through HubAuth, ServiceSettings.auth_cache_seconds={CACHE_SECONDS}",
        "connections": "two keep-alive HTTP/1.1 connections per learner (actions, watch)",
        "service_processes": 1,
        "runs": opts.runs,
        "backend": "postgresql",
    }


# -- set-up ---------------------------------------------------------------------------------------
def roster_csv(usernames: list[str]) -> str:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["name", "email", "team", "role", "username"])
    for i, name in enumerate(usernames):
        out.writerow([f"Learner {i:04d}", f"{name}@example.org", f"team-{i % 20}", "learner", name])
    return buf.getvalue()


def seed(url: str, usernames: list[str]) -> dict[str, Any]:
    """Cohort, the roster with the hub's usernames, threads with posts and reactions."""
    from sqlalchemy import func, select

    from nbcohort.cohorts.models import Member, Post
    from nbcohort.cohorts.services import posts
    from nbcohort.cohorts.services.auth import Actor
    from nbcohort.cohorts.services.cohort_registry import create_cohort
    from nbcohort.cohorts.services.roster import import_roster
    from nbcohort.cohorts.store import Store

    rng, system = random.Random(11), Actor.system()
    store = Store.open(url, upgrade=True)
    try:
        with store.write() as s:
            cohort = create_cohort(s, system, "bench", "Benchmark cohort")
            import_roster(s, system, cohort, roster_csv(usernames).encode(), filename="hub.csv")
            members = list(s.scalars(select(Member).where(Member.cohort_id == cohort.id)))
            by_anchor: dict[str, list[int]] = {}
            for anchor in ANCHORS:
                for _ in range(rng.randint(8, 16)):
                    top = posts.create_post(
                        s, Actor.of(rng.choice(members)), cohort, anchor, f"Seed in {anchor}"
                    )
                    by_anchor.setdefault(anchor, []).append(top.id)
                    for fan in rng.sample(members, rng.randint(0, 5)):
                        posts.react(s, Actor.of(fan), top.id, "+1")
        with store.read() as s:
            count = s.scalar(select(func.count()).select_from(Post)) or 0
    finally:
        store.close()
    return {"posts_by_anchor": by_anchor, "seeded_posts": count}


def hub_tokens(hub: HubProcess, usernames: list[str]) -> list[str]:
    """Create the hub users in batches and one token each (8 requests at a time). A busy
    machine can make the hub answer later than the helper's 10 s: such a request is made
    again (a batch user by user, which tolerates those already made; a token anew)."""
    import requests

    for i in range(0, len(usernames), 50):
        batch = usernames[i : i + 50]
        try:
            hub.api("POST", "/users", json={"usernames": batch})
        except requests.RequestException:
            for name in batch:
                _again(lambda name=name: hub.add_user(name))

    def token(name: str) -> str:
        return _again(lambda: hub.token_for(name))[0]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(token, usernames))


def _again(call: Any, tries: int = 4) -> Any:
    import requests

    for attempt in range(tries):
        try:
            return call()
        except requests.Timeout:
            if attempt == tries - 1:
                raise
    raise AssertionError("unreachable")


def run_generator(tmp: Path, cfg: dict[str, Any], step: int) -> dict[str, Any]:
    cfg_path, out_path = tmp / f"hubgen-{step}.json", tmp / f"hubgen-{step}-result.json"
    cfg_path.write_text(json.dumps(cfg))
    proc = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("hub_loadgen.py")),
            str(cfg_path),
            str(out_path),
        ],
        capture_output=True,
        text=True,
        timeout=cfg["duration_s"] + 300,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(out_path.read_text())


def hub_identity_requests(hub: HubProcess) -> int:
    """Requests the hub has logged so far asking whose token it is (HubAuth's question)."""
    return hub.log.read_text(errors="replace").count("GET /hub/api/user ")


# -- one run --------------------------------------------------------------------------------------
def step_figures(res: dict[str, Any], cpu_pct: float | None, rss_mb: float) -> dict[str, Any]:
    lat, elapsed = res["latency_ms"], res["elapsed_s"]
    routes = {k: v for k, v in lat.items() if k != "watch"}  # a watch's time is its wait
    answered = sum(len(v) for v in routes.values())
    errors = sum(
        n for kind in res["status"].values() for code, n in kind.items() if not code.startswith("2")
    )
    return {
        "learners": res["learners"],
        "elapsed_s": elapsed,
        "throughput_rps": round(answered / elapsed, 1),
        "routes": {
            k: {**lat_stats(v), "rps": round(len(v) / elapsed, 1)} for k, v in routes.items()
        },
        "all": lat_stats([x for v in routes.values() for x in v]),
        "watch_answers": res["watch_answers"],
        "errors": errors,
        "error_kinds": res["errors"],
        "service_cpu_pct_of_a_core": cpu_pct,
        "service_peak_rss_mb": rss_mb,
        "generator_cpu_s": res["generator_cpu_s"],
    }


def one_run(opts: Any, params: dict[str, Any], proxy: str) -> dict[str, Any]:
    usernames = [f"learner{i:04d}" for i in range(max(STEPS))]
    with tempfile.TemporaryDirectory(prefix="nbc-bench-hub-") as tmp_name:
        tmp = Path(tmp_name)
        port = bl.free_port()
        hub = HubProcess(tmp / "hub", proxy, port).start()
        try:
            t0 = time.perf_counter()
            tokens = hub_tokens(hub, usernames)
            run: dict[str, Any] = {"hub_users_and_tokens_s": round(time.perf_counter() - t0, 1)}
            with bl.fresh_database("postgresql", tmp) as url:
                seeded = seed(url, usernames)
                svc = hub_service(tmp, url, hub, port, cache_seconds=CACHE_SECONDS).start(60)
                assert svc.proc is not None
                sampler = bl.RssSampler(svc.proc.pid).start()
                assert hub.proc is not None
                hub_cpu = bl.RssSampler(hub.proc.pid, interval=0.5).start()  # the hub's CPU
                results = []
                try:
                    run["idle_rss_mb"] = sampler.window()
                    for step in STEPS:
                        cfg = {
                            "host": "127.0.0.1",
                            "port": port,
                            "prefix": "/services/nbcohort",
                            "tokens": tokens[:step],
                            "anchors": ANCHORS,
                            "posts_by_anchor": seeded["posts_by_anchor"],
                            "duration_s": params["step_duration_s"],
                            "think_mean_s": params["think_mean_s"],
                            "watch_wait_s": 25.0,
                            "mix": MIX,
                            "seed": step,
                        }
                        asked = hub_identity_requests(hub)
                        res = run_generator(tmp, cfg, step)
                        results.append(res)
                        cpu = sampler.cpu_between(*res["window_epoch"])
                        figures = step_figures(res, cpu, sampler.window())
                        figures["hub_cpu_pct_of_a_core"] = hub_cpu.cpu_between(*res["window_epoch"])
                        figures["hub_identity_requests_per_s"] = round(
                            (hub_identity_requests(hub) - asked) / res["elapsed_s"], 1
                        )
                        run[f"step_{step}"] = figures
                finally:
                    run["service_peak_rss_mb"] = sampler.stop()
                    hub_cpu.stop()
                    svc.stop()
                run["check"] = verify(url, seeded["seeded_posts"], results)
        finally:
            hub.stop()
    return run


def run(opts: Any) -> tuple[dict[str, Any], str, bool]:
    params = parameters(opts)
    if not bl.PG_URL:
        return {"parameters": params, "skipped": "needs NBCOHORT_TEST_DB_URL"}, "skipped", True
    proxy = find_proxy(bl.REPO / ".venv" / "node")
    if proxy is None:
        return {"parameters": params, "skipped": "no configurable-http-proxy"}, "skipped", True
    runs = [one_run(opts, params, proxy) for _ in range(opts.runs)]
    med = bl.medians(runs)
    ok = all(r["check"]["ok"] for r in runs)
    return {"parameters": params, "runs": runs, "median": med}, report(med, ok), ok


def report(med: dict[str, Any], ok: bool) -> str:
    rows = []
    for step in STEPS:
        s = med.get(f"step_{step}", {})
        for route, fig in sorted(s.get("routes", {}).items()):
            rows.append([step, route, fig.get("rps"), fig.get("p50_ms"), fig.get("p99_ms")])
        rows.append([step, "ALL", s.get("throughput_rps"), dig2(s, "all", "p50_ms"),
                     dig2(s, "all", "p99_ms")])  # fmt: skip
        rows.append([step, f"service CPU {s.get('service_cpu_pct_of_a_core')}% of a core, "
                     f"peak RSS {s.get('service_peak_rss_mb')} MB, errors {s.get('errors')}; "
                     f"hub CPU {s.get('hub_cpu_pct_of_a_core')}%, "
                     f"{s.get('hub_identity_requests_per_s')} identity requests/s",
                     "", "", ""])  # fmt: skip
    text = bl.table(["learners", "route", "req/s", "p50 ms", "p99 ms"], rows)
    return text + f"\nposts check: {'ok' if ok else 'FAILED'}"


def dig2(d: dict[str, Any], a: str, b: str) -> Any:
    return (d.get(a) or {}).get(b)
