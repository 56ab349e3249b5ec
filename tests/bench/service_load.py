"""Benchmark: the community service under 200 concurrent members, then write saturation.

Per database backend and run: a fresh migrated database seeded through the services layer
(one cohort, 200 members with tokens, 20 threads with posts, replies and reactions); the real
``nbcohort serve`` in its own process with a clean environment; the load generator
(loadgen.py) in another process. Phases:

- mixed: every member loops with think time (exponential, mean 1 s: a live session where
  everyone has the course notebook open and the discussion widgets refresh and post), then
  80 % thread reads, 12 % posts (40 % of them replies), 8 % reactions.
- saturation: every member posts back-to-back, no think time.

Afterwards every acknowledged post (201 with an id) must be in the database exactly once with
its body's nonce, and the post count must equal seeded + acknowledged. The service's RSS is
sampled every 100 ms; ``--profile`` samples the service with py-spy during each phase.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchlib as bl
from pyspy import start_profile, summarize_profile
from service_figures import dig, phase_figures, verify

NAME = "service_load"
ANCHORS = [
    f"module-{m}/{s}"
    for m in range(1, 5)
    for s in ("overview", "loading-data", "groupby", "merging")
] + ["topic/at-work", "topic/pandas-tips", "topic/introductions", "topic/help"]
MIX = {"read": 0.80, "post": 0.12, "react": 0.08}
SERIAL = {"read": 50, "post": 25, "react": 25}
TARGETS = {"read_p99_ms": 50.0, "sqlite_writes_per_s": 500.0, "service_rss_mb": 250.0}


def parameters(opts: Any) -> dict[str, Any]:
    return {
        "members": opts.members,
        "fresh_database": "seeded once per backend, then copied for every run "
        "(SQLite backup API / PostgreSQL CREATE DATABASE .. TEMPLATE)",
        "threads": len(ANCHORS),
        "mixed_duration_s": 5 if opts.quick else 12,
        "saturation_duration_s": 4 if opts.quick else 6,
        "think_time": f"exponential, mean {opts.think_mean} s, before every request",
        "think_mean_s": opts.think_mean,
        "serial_probe": SERIAL,
        "mix": MIX,
        "reply_share_of_posts": 0.4,
        "read_request": "GET /api/v1/thread?anchor=A&limit=30 (anchor popularity ~ 1/rank)",
        "connections": "one keep-alive HTTP/1.1 connection per member, Accept-Encoding: gzip",
        "rss_sample_interval_s": 0.1,
        "runs": opts.runs,
        "backends": bl.backends(),
        "profile": bool(opts.profile),
        "processes": opts.processes,
        "processes_note": "ServiceSettings.processes; the counts run interleaved, run by run",
    }


# -- seeding --------------------------------------------------------------------------------------
def seed(url: str, members_n: int) -> dict[str, Any]:
    """Cohort, members, tokens, threads, posts and reactions, all through the services layer."""
    from sqlalchemy import func, select

    from nbcohort.cohorts.models import Member, Post
    from nbcohort.cohorts.services import posts
    from nbcohort.cohorts.services.auth import Actor, mint_token
    from nbcohort.cohorts.services.cohort_registry import create_cohort
    from nbcohort.cohorts.services.roster import import_roster
    from nbcohort.cohorts.store import Store

    system = Actor.system()
    rng = random.Random(11)
    t0 = time.perf_counter()
    store = Store.open(url, upgrade=True)
    try:
        with store.write() as s:
            cohort = create_cohort(s, system, "bench", "Benchmark cohort")
            roster = bl.synthetic_roster_csv(members_n, seed=5, with_sponsors=False)
            import_roster(s, system, cohort, roster.encode(), filename="bench.csv")
            members = list(
                s.scalars(select(Member).where(Member.cohort_id == cohort.id).order_by(Member.id))
            )
            tokens = [mint_token(s, system, m, "bench") for m in members]
            by_anchor: dict[str, list[int]] = {}
            for anchor in ANCHORS:
                tops = by_anchor.setdefault(anchor, [])
                for _ in range(rng.randint(8, 16)):
                    author = rng.choice(members)
                    body = f"Seed post in {anchor}: how do I `groupby` **{rng.random():.4f}**?"
                    top = posts.create_post(s, Actor.of(author), cohort, anchor, body)
                    tops.append(top.id)
                    for _ in range(rng.randint(0, 3)):
                        replier = rng.choice(members)
                        reply = posts.create_post(
                            s,
                            Actor.of(replier),
                            cohort,
                            anchor,
                            "Try `validate='one_to_one'`.",
                            parent_id=top.id,
                        )
                        if rng.random() < 0.5:
                            posts.react(s, Actor.of(author), reply.id, "helpful")
                    for fan in rng.sample(members, rng.randint(0, 5)):
                        posts.react(s, Actor.of(fan), top.id, rng.choice(["+1", "insightful"]))
        with store.read() as s:
            post_count = s.scalar(select(func.count()).select_from(Post)) or 0
    finally:
        store.close()
    return {
        "tokens": tokens,
        "posts_by_anchor": by_anchor,
        "seeded_posts": post_count,
        "seed_s": round(time.perf_counter() - t0, 2),
    }


# -- the service process --------------------------------------------------------------------------
class Service:
    def __init__(self, tmp: Path, url: str, processes: int = 1) -> None:
        self.port = bl.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"service-{self.port}.log"
        self.env = bl.isolated_env(tmp)
        self.args = bl.cli(
            "serve", f"--db-url={url}", f"--port={self.port}", f"--data-dir={tmp / 'data'}",
            f"--ServiceSettings.processes={processes}",
            *os.environ.get("NBCOHORT_BENCH_SERVE_ARGS", "").split(),
        )  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None
        self.maxrss_mb: float | None = None

    def start(self, timeout: float = 60) -> Service:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.args, env=self.env, stdout=out, stderr=out)
        bl.wait_until_serving(self.base + "/api/v1/health", self.proc, self.log, timeout)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        """SIGTERM, then reap with wait4 to learn the exact peak RSS of the whole run."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                self.maxrss_mb = round(usage.ru_maxrss / 1024, 1)
                return
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()


def run_generator(tmp: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    cfg_path = tmp / f"loadgen-{cfg['phase']}.json"
    out_path = tmp / f"loadgen-{cfg['phase']}-result.json"
    cfg_path.write_text(json.dumps(cfg))
    script = Path(__file__).with_name("loadgen.py")
    proc = subprocess.run(
        [sys.executable, str(script), str(cfg_path), str(out_path)],
        capture_output=True,
        text=True,
        timeout=cfg.get("duration_s", 0) + 300,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(out_path.read_text())


def one_run(
    backend: str,
    template: str,
    seeded: dict[str, Any],
    opts: Any,
    params: dict[str, Any],
    n: int,
    processes: int = 1,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nbc-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with bl.clone_database(backend, template, tmp) as url:
            svc = Service(tmp, url, processes).start()
            sampler = bl.RssSampler(svc.pid, interval=0.1).start()
            base = {
                "host": "127.0.0.1",
                "port": svc.port,
                "tokens": seeded["tokens"],
                "anchors": ANCHORS,
                "posts_by_anchor": seeded["posts_by_anchor"],
                "mix": MIX,
                "think_mean_s": params["think_mean_s"],
                "reply_share": 0.4,
                "request_timeout_s": 30.0,
            }
            run: dict[str, Any] = {
                "run": n,
                "load_average_1m": round(os.getloadavg()[0], 2),
                "seeded_posts": seeded["seeded_posts"],
            }
            generated: list[dict[str, Any]] = []
            try:
                warm = run_generator(tmp, {**base, "phase": "warmup", "seed": n})
                generated.append(warm)
                run["idle_rss_mb"] = sampler.window()
                serial = run_generator(
                    tmp, {**base, "phase": "serial", "seed": n, "serial": SERIAL}
                )
                generated.append(serial)
                run["serial"] = phase_figures(serial, "serial")
                run["serial"]["service_cpu_pct_of_one_core"] = sampler.cpu_between(
                    *serial["window_epoch"]
                )
                run["serial"]["capacity_estimate_rps"] = capacity(run["serial"])
                profile = opts.profile and n == 1
                for phase, seconds in (
                    ("mixed", params["mixed_duration_s"]),
                    ("saturation", params["saturation_duration_s"]),
                ):
                    prof_out = tmp / f"{phase}.pyspy.txt"
                    spy = start_profile(svc.pid, seconds, prof_out) if profile else None
                    res = run_generator(
                        tmp,
                        {
                            **base,
                            "phase": phase,
                            "duration_s": seconds,
                            "seed": 1000 * n + len(phase),
                        },
                    )
                    generated.append(res)
                    run[phase] = phase_figures(res, phase)
                    run[phase]["service_cpu_pct_of_one_core"] = sampler.cpu_between(
                        *res["window_epoch"]
                    )
                    run[phase]["service_peak_rss_mb"] = sampler.window()
                    if spy is not None:
                        spy.wait(seconds + 60)
                        summary = summarize_profile(prof_out)
                        if summary:
                            keep = bl.RESULTS / f"{NAME}-profile-{backend}-{phase}.pyspy.txt"
                            bl.RESULTS.mkdir(parents=True, exist_ok=True)
                            shutil.copy(prof_out, keep)
                            summary["raw_file"] = str(keep.relative_to(bl.REPO))
                        run[phase]["profile"] = summary
            finally:
                run["service_peak_rss_mb_sampled"] = sampler.stop()
                run["service_peak_pss_mb_sampled"] = round(sampler.pss_peak / bl.MB, 1)
                svc.stop()
                # One process: wait4's exact peak. Workers: the sampled sum of their RSS (it
                # counts pages they share with the supervisor in each; PSS is the real sum).
                run["service_peak_rss_mb"] = (
                    svc.maxrss_mb if processes == 1 else run["service_peak_rss_mb_sampled"]
                )
                run["service_exit_code"] = svc.proc.returncode if svc.proc else None
                log_text = svc.log.read_text(errors="replace") if svc.log.exists() else ""
                run["page_cache"] = page_cache_share(log_text)
                log_tail = log_text[-2000:]
                if any(w in log_tail for w in ("Traceback", "ERROR")):
                    run["service_log_tail"] = log_tail
            run["integrity"] = verify(url, seeded["seeded_posts"], generated)
        return run


def page_cache_share(log_text: str) -> dict[str, Any] | None:
    """Thread pages served and served from the page cache, summed over the service's
    processes (each prints one line when it stops)."""
    found = re.findall(
        r"(\d+) thread pages served, (\d+) from the page cache, (\d+) with no query", log_text
    )
    if not found:
        return None
    served, hits, unchecked = (sum(int(f[i]) for f in found) for i in (0, 1, 2))
    return {"served": served, "from_cache": hits, "hit_pct": round(100 * hits / max(served, 1), 1),
            "with_no_query": unchecked,
            "no_query_pct": round(100 * unchecked / max(served, 1), 1)}  # fmt: skip


def capacity(serial: dict[str, Any]) -> float | None:
    """Requests/s one service process can answer at the mixed phase's mix, from the mean
    service time of each kind measured one request at a time (the latency floor)."""
    try:
        per = sum(MIX[k] * serial[k]["mean_ms"] for k in MIX)
    except KeyError:
        return None
    return round(1000 / per, 1) if per else None


def targets_met(backend: str, med: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    p99 = dig(med, "mixed", "read", "p99_ms")
    if p99 is not None:
        out["read_p99_under_50ms"] = p99 < TARGETS["read_p99_ms"]
    if backend == "sqlite":
        wps = dig(med, "saturation", "writes_per_s")
        if wps is not None:
            out["sqlite_500_writes_per_s"] = wps >= TARGETS["sqlite_writes_per_s"]
    rss = med.get("service_peak_rss_mb")
    if rss is not None:
        out["service_rss_under_250mb"] = rss < TARGETS["service_rss_mb"]
    return out


def report_run(r: dict[str, Any]) -> bool:
    integ = r["integrity"]
    print(
        f"  serial read {dig(r, 'serial', 'read', 'mean_ms')} ms; mixed read p99 "
        f"{dig(r, 'mixed', 'read', 'p99_ms')} ms, {dig(r, 'mixed', 'throughput_rps')} req/s; "
        f"saturation {dig(r, 'saturation', 'writes_per_s')} writes/s, p99 "
        f"{dig(r, 'saturation', 'post', 'p99_ms')} ms; integrity "
        f"{'ok' if integ['ok'] else 'FAILED ' + json.dumps(integ)}; "
        f"RSS {r['service_peak_rss_mb']} MB; pages from cache "
        f"{dig(r, 'page_cache', 'hit_pct')} %",
        flush=True,
    )
    return bool(integ["ok"])


def run(opts: Any) -> tuple[dict[str, Any], str, bool]:
    params = parameters(opts)
    payload: dict[str, Any] = {"parameters": params, "targets": TARGETS, "backends": {}}
    ok = True
    rows: list[list[Any]] = []
    for backend in params["backends"]:
        with (
            tempfile.TemporaryDirectory(prefix="nbc-seed-") as seed_tmp,
            bl.fresh_database(backend, Path(seed_tmp)) as template,
        ):
            # Seeded once per backend through the services layer; every run gets a fresh copy.
            seeded = seed(template, params["members"])
            print(f"[bench] {NAME} {backend}: seeded in {seeded['seed_s']} s", flush=True)
            # Interleaved, so both process counts see the same machine noise.
            by_count: dict[int, list[dict[str, Any]]] = {p: [] for p in params["processes"]}
            for n in range(1, opts.runs + 1):
                for procs in params["processes"]:
                    print(f"[bench] {NAME} {backend} x{procs} run {n}/{opts.runs}", flush=True)
                    r = one_run(backend, template, seeded, opts, params, n, procs)
                    ok = report_run(r) and ok
                    by_count[procs].append(r)
        for procs, runs in by_count.items():
            ok = _summarize(payload, rows, backend, procs, seeded, runs) and ok
    text = _table(rows)
    return payload, text, ok


def _summarize(
    payload: dict[str, Any],
    rows: list[list[Any]],
    backend: str,
    procs: int,
    seeded: dict[str, Any],
    runs: list[dict[str, Any]],
) -> bool:
    """Medians of one backend and process count, into the JSON and a table row."""
    med = bl.medians(runs)
    lost = sum(r["integrity"]["lost"] for r in runs)
    dup = sum(r["integrity"]["duplicated"] for r in runs)
    payload["backends"][backend if procs == 1 else f"{backend}-{procs}proc"] = {
        "processes": procs,
        "seed_s": seeded["seed_s"],
        "median": med,
        "targets_met": targets_met(backend, med),
        "integrity_ok_all_runs": all(r["integrity"]["ok"] for r in runs),
        "runs": runs,
    }
    rows.append(
        [
            backend,
            procs,
            dig(med, "mixed", "read", "p50_ms"),
            dig(med, "mixed", "read", "p95_ms"),
            dig(med, "mixed", "read", "p99_ms"),
            dig(med, "mixed", "post", "p99_ms"),
            dig(med, "mixed", "react", "p99_ms"),
            dig(med, "mixed", "throughput_rps"),
            dig(med, "saturation", "writes_per_s"),
            dig(med, "saturation", "post", "p50_ms"),
            dig(med, "saturation", "post", "p99_ms"),
            f"{lost}/{dup}",
            med.get("service_peak_rss_mb"),
            med.get("service_peak_pss_mb_sampled"),
        ]
    )
    return all(r["integrity"]["ok"] for r in runs)


def _table(rows: list[list[Any]]) -> str:
    head = [
        "db",
        "processes",
        "read p50",
        "read p95",
        "read p99",
        "post p99",
        "react p99",
        "mixed req/s",
        "sat writes/s",
        "sat p50",
        "sat p99",
        "lost/dup",
        "RSS MB",
        "PSS MB",
    ]
    return bl.table(head, rows) + (
        "\n(ms; medians of runs; targets: read p99 < 50 ms, SQLite >= 500 writes/s with "
        "0 lost/dup, service RSS < 250 MB)"
    )
