"""Benchmark: ``nbcohort cadence tick`` for a cohort of 10,000 members with nothing due.

Prepared once per backend (not timed): a cohort file applied three weeks back (weekday
prompts, two routines, highlights, a clinic, the six-step onboarding), a facilitator, 10,000
learners who joined over the last 30 days (so about half are inside their fourteen days),
then one catch-up tick that publishes everything due and records every onboarding step due
(tens of thousands of rows). Every timed tick runs at that same instant (``--now``), so nothing
is due: what is measured is what cron pays every minute.

Per run, on a fresh copy of the prepared database:

- the tick's own work: ``run_tick`` in a worker process, 7 times (median), with each step's
  time, after the store is open (the CLI's start-up is not in it);
- the whole command as cron runs it (a subprocess; wall time, peak RSS), 5 times;
- the CLI's start-up floor: ``nbcohort cohort list`` on the same database.

``python cadence_tick.py --worker URL NOW`` is the in-process worker; ``--prepare URL N``
makes the database.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import benchlib as bl

NAME = "cadence_tick"
SLUG = "spring-26"
TICKS_IN_PROCESS = 7
TICKS_CLI = 5
NOW = datetime(2027, 3, 22, 10, 3, tzinfo=UTC)  # a Monday, three weeks into the cohort


def parameters(opts: Any) -> dict[str, Any]:
    return {
        "members": 2000 if opts.quick else 10_000,
        "runs": opts.runs,
        "backends": bl.backends(),
        "now": NOW.isoformat(),
        "ticks_in_process": TICKS_IN_PROCESS,
        "ticks_cli": TICKS_CLI,
        "targets": {"tick_work_ms": 200, "command_wall_s": 2.0},
    }


def prepare(url: str, n: int) -> dict[str, Any]:
    """The cohort, its members and one catch-up tick (not timed; returns what it made)."""
    from sqlalchemy import func, select

    from nbcohort.cohorts.models import Cohort, Notification, OnboardingStep, clock_at
    from nbcohort.cohorts.services.cadence_tick import run_tick
    from nbcohort.cohorts.services.members import add_member
    from nbcohort.cohorts.store import Store
    from tests.helpers.community import SYSTEM
    from tests.helpers.rhythm import apply_text, bulk_members, cohort_toml

    store = Store.open(url, upgrade=True)
    try:
        began = NOW - timedelta(days=21)
        cohort, _ = apply_text(store, cohort_toml(starts_on=began.date().isoformat()), began)
        with clock_at(began), store.write() as s:
            add_member(s, SYSTEM, s.get_one(Cohort, cohort.id), name="Fay", role="facilitator",
                       email="fay@example.org", username="fay")  # fmt: skip
        joined = [NOW - timedelta(days=30) * (i + 1) / n for i in range(n)]
        bulk_members(store, cohort.id, n, joined)
        started = time.perf_counter()
        with clock_at(NOW):
            [report] = run_tick(store, None, now=NOW)
        catch_up = time.perf_counter() - started
        with store.read() as s:
            steps = s.scalar(select(func.count()).select_from(OnboardingStep))
            notes = s.scalar(select(func.count()).select_from(Notification))
        return {"catch_up_tick_s": round(catch_up, 1), "catch_up": str(report),
                "onboarding_rows": steps, "notifications": notes}  # fmt: skip
    finally:
        store.close()


def worker(url: str, now: str) -> dict[str, Any]:
    """``run_tick`` timed in this process, step by step."""
    from nbcohort.cohorts.services import cadence_tick
    from nbcohort.cohorts.store import Store

    when = datetime.fromisoformat(now)
    per_step: dict[str, list[float]] = {name: [] for name, _ in cadence_tick.STEPS}

    def timed(name: str, step: Any) -> Any:
        def run(ctx: Any) -> str:
            t = time.perf_counter()
            said = step(ctx)
            per_step[name].append((time.perf_counter() - t) * 1000)
            return said

        return run

    steps = [(name, timed(name, step)) for name, step in cadence_tick.STEPS]
    t0 = time.perf_counter()
    store = Store.open(url)
    opened = (time.perf_counter() - t0) * 1000
    ticks, said = [], ""
    try:
        for _ in range(TICKS_IN_PROCESS):
            t = time.perf_counter()
            [report] = cadence_tick.run_tick(store, [SLUG], now=when, steps=steps)
            ticks.append((time.perf_counter() - t) * 1000)
            said = str(report)
    finally:
        store.close()
    return {
        "store_open_ms": round(opened, 1),
        "tick_ms": round(statistics.median(ticks), 1),
        "tick_ms_first": round(ticks[0], 1),
        "tick_ms_all": [round(t, 1) for t in ticks],
        "steps_ms": {k: round(statistics.median(v), 1) for k, v in per_step.items()},
        "said": said,
        "worker_peak_rss_mb": bl.self_peak_rss_mb(),
    }


def _prepare_elsewhere(url: str, n: int, tmp: Path) -> dict[str, Any]:
    from tests.helpers.processes import isolated_env

    cmd = [sys.executable, str(Path(__file__).resolve()), "--prepare", url, str(n)]
    res = bl.run_measured(cmd, isolated_env(tmp), cwd=tmp, timeout=1800)
    if res["returncode"] != 0:
        raise RuntimeError(f"prepare failed:\n{res['stderr'][-3000:]}")
    return dict(json.loads(res["stdout"].strip().splitlines()[-1]))


def one_run(backend: str, template: str, tmp: Path, run_no: int) -> dict[str, Any]:
    run: dict[str, Any] = {"run": run_no, "load_average_1m": round(os.getloadavg()[0], 2)}
    from tests.helpers.processes import isolated_env  # (benchlib's own went with 15fd9ba)

    env = isolated_env(tmp)
    with bl.clone_database(backend, template, tmp) as url:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", url, NOW.isoformat()]
        res = bl.run_measured(cmd, env, cwd=tmp)
        if res["returncode"] != 0:
            raise RuntimeError(f"worker failed:\n{res['stderr'][-3000:]}")
        run["in_process"] = json.loads(res["stdout"].strip().splitlines()[-1])
        common = [f"--cohort={SLUG}", f"--db-url={url}", f"--data-dir={tmp / 'data'}"]
        walls, rss, sampled, work, outputs = [], [], [], [], []
        for _ in range(TICKS_CLI):
            got = bl.run_measured(bl.cli("cadence", "tick", f"--now={NOW.isoformat()}",
                                         "--verbose", *common), env, cwd=tmp)  # fmt: skip
            if got["returncode"] != 0:
                raise RuntimeError(f"cadence tick failed:\n{got['stderr'][-3000:]}")
            walls.append(got["wall_s"])
            rss.append(got["peak_rss_mb"])
            sampled.append(got["peak_rss_mb_sampled"])
            outputs.append(got["stdout"].strip())
            work.append(float(got["stdout"].rsplit("(", 1)[1].split(" ms")[0]))
        floor = bl.run_measured(bl.cli("cohort", "list", *common), env, cwd=tmp)
    run["cli"] = {
        "wall_s": round(statistics.median(walls), 3),
        "wall_s_all": walls,
        "peak_rss_mb": max(rss),
        "peak_rss_mb_sampled": max(sampled),
        "reported_work_ms": round(statistics.median(work), 1),
        "output": outputs[-1][-300:],
    }
    run["cli_startup_wall_s"] = floor["wall_s"]
    nothing = all("nothing due" in o and "up to date" in o for o in outputs)
    run["checks"] = {"nothing_was_due": nothing, "in_process_nothing_due":
                     "nothing due" in run["in_process"]["said"]}  # fmt: skip
    run["ok"] = all(run["checks"].values())
    return run


def run(opts: Any) -> tuple[dict[str, Any], str, bool]:
    params = parameters(opts)
    n = params["members"]
    payload: dict[str, Any] = {"parameters": params, "backends": {}}
    rows, ok = [], True
    for backend in params["backends"]:
        with tempfile.TemporaryDirectory(prefix="nbc-tick-") as tmp_name:
            tmp = Path(tmp_name)
            with bl.fresh_database(backend, tmp) as template:
                print(f"[bench] {NAME} {backend}: preparing {n} members", flush=True)
                # In a child process: a large parent would inflate the peak RSS of every
                # command forked from it (ru_maxrss counts the pages copied before exec).
                made = _prepare_elsewhere(template, n, tmp)
                print(f"  prepared: {made}", flush=True)
                runs = []
                for i in range(1, opts.runs + 1):
                    print(f"[bench] {NAME} {backend} run {i}/{opts.runs}", flush=True)
                    r = one_run(backend, template, tmp, i)
                    print(f"  tick {r['in_process']['tick_ms']} ms in process "
                          f"({r['in_process']['steps_ms']}), command {r['cli']['wall_s']} s "
                          f"(start-up floor {r['cli_startup_wall_s']} s), peak RSS "
                          f"{r['cli']['peak_rss_mb']} MB; checks "
                          f"{'ok' if r['ok'] else 'FAILED ' + json.dumps(r['checks'])}",
                          flush=True)  # fmt: skip
                    ok = ok and r["ok"]
                    runs.append(r)
        med = bl.medians(runs)
        payload["backends"][backend] = {"prepared": made, "median": med, "runs": runs}
        rows.append([backend, med["in_process"]["tick_ms"], med["cli"]["reported_work_ms"],
                     med["cli"]["wall_s"], med["cli_startup_wall_s"], med["cli"]["peak_rss_mb"],
                     "ok" if all(r["ok"] for r in runs) else "FAILED"])  # fmt: skip
    text = bl.table(
        ["db", "tick ms (in process)", "tick ms (CLI says)", "command s", "start-up s",
         "peak RSS MB", "checks"],
        rows,
    )  # fmt: skip
    text += f"\n(medians of runs; {n} members, nothing due; targets: tick < 200 ms, command < 2 s)"
    return payload, text, ok


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--worker":
        sys.path.insert(0, str(bl.REPO))
        print(json.dumps(worker(sys.argv[2], sys.argv[3])))
    elif len(sys.argv) >= 4 and sys.argv[1] == "--prepare":
        sys.path.insert(0, str(bl.REPO))
        print(json.dumps(prepare(sys.argv[2], int(sys.argv[3]))))
    else:
        sys.exit("run the benchmarks with: python tests/bench/run.py --only cadence_tick")
