"""Benchmark: ``nbcohort roster import`` of a 10,000-member CSV, then the same file again.

Per database backend and run, on a fresh migrated database holding one empty cohort:

- the full CLI command as a user runs it (a subprocess; wall time, CPU, peak RSS);
- the same file again (every member unchanged, still 10,000 members, no duplicates);
- ``import_roster`` called in-process on another fresh database (in a worker process, so its
  memory is its own), with a breakdown: parse, validate, the whole call (with its flush), the
  commit; then the in-process re-import;
- the CLI's start-up floor: ``nbcohort cohort list`` on the same database.

The CSV is synthetic: unique emails, unicode and right-to-left names (a few decomposed, some
with commas or quotes), four teams, every role. ``python roster_import.py --worker URL FILE``
is the in-process worker.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchlib as bl

NAME = "roster_import"
SLUG = "bench"


def parameters(opts: Any) -> dict[str, Any]:
    return {
        "members": 2000 if opts.quick else 10_000,
        "runs": opts.runs,
        "backends": bl.backends(),
        "csv": "name,email,team,role,timezone; unique emails; unicode/RTL names; 4 teams",
        "profile": bool(opts.profile),
    }


def prepare(url: str) -> None:
    """Migrate the fresh database and create the empty cohort (not timed)."""
    from nbcohort.cohorts.services.auth import Actor
    from nbcohort.cohorts.services.cohort_registry import create_cohort
    from nbcohort.cohorts.store import Store

    store = Store.open(url, upgrade=True)
    try:
        with store.write() as s:
            create_cohort(s, Actor.system(), SLUG, "Roster benchmark")
    finally:
        store.close()


def member_counts(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from nbcohort.cohorts.models import Member
    from nbcohort.cohorts.store import Store

    store = Store(url)
    try:
        with store.read() as s:
            rows = s.execute(select(func.count(), func.count(func.distinct(Member.email)))).one()
            return {"members": rows[0], "distinct_emails": rows[1]}
    finally:
        store.close()


def cli_run(tmp: Path, url: str, *args: str) -> dict[str, Any]:
    env = bl.isolated_env(tmp)
    cmd = bl.cli(*args, f"--cohort={SLUG}", f"--db-url={url}", f"--data-dir={tmp / 'data'}")
    res = bl.run_measured(cmd, env, cwd=tmp)
    out = {k: v for k, v in res.items() if k not in ("stdout", "stderr")}
    out["cpu_s"] = round(res["cpu_user_s"] + res["cpu_sys_s"], 3)
    out["output"] = res["stdout"].strip()[-300:]
    if res["returncode"] != 0:
        out["error"] = res["stderr"].strip()[-2000:]
    return out


def expect_summary(output: str, **want: int) -> bool:
    """The CLI's summary line ("N added, N updated, N unchanged, N deactivated") says ``want``."""
    got = {k: int(n) for n, k in re.findall(r"(\d+) (added|updated|unchanged|deactivated)", output)}
    return all(got.get(k) == n for k, n in want.items())


def worker_run(tmp: Path, url: str, csv_path: Path, profile: bool) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", url, str(csv_path)]
    if profile:
        cmd.append("--profile")
    res = bl.run_measured(cmd, bl.isolated_env(tmp), cwd=tmp)
    if res["returncode"] != 0:
        raise RuntimeError(f"in-process worker failed:\n{res['stderr'][-3000:]}")
    out = json.loads(res["stdout"].strip().splitlines()[-1])
    out["worker_peak_rss_mb"] = res["peak_rss_mb"]
    return out


def one_run(backend: str, csv_path: Path, n: int, run_no: int, profile: bool) -> dict[str, Any]:
    run: dict[str, Any] = {"run": run_no, "load_average_1m": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="nbc-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with bl.fresh_database(backend, tmp) as url:
            prepare(url)
            run["cli_startup"] = cli_run(tmp, url, "cohort", "list")
            run["cli_import"] = cli_run(tmp, url, "roster", "import", str(csv_path))
            run["after_import"] = member_counts(url)
            run["cli_reimport"] = cli_run(tmp, url, "roster", "import", str(csv_path))
            run["after_reimport"] = member_counts(url)
        with bl.fresh_database(backend, tmp) as url:
            prepare(url)
            run["in_process"] = worker_run(tmp, url, csv_path, profile)
    first, again = run["cli_import"], run["cli_reimport"]
    run["checks"] = {
        "import_added_all": first["returncode"] == 0
        and expect_summary(first["output"], added=n, updated=0, unchanged=0),
        "reimport_all_unchanged": again["returncode"] == 0
        and expect_summary(again["output"], added=0, updated=0, unchanged=n, deactivated=0),
        "members_after_import": run["after_import"]["members"] == n,
        "members_after_reimport": run["after_reimport"]["members"] == n,
        "no_duplicate_emails": run["after_reimport"]["distinct_emails"] == n,
        "in_process_reimport_unchanged": run["in_process"]["reimport_unchanged"] == n,
    }
    run["ok"] = all(run["checks"].values())
    return run


def run(opts: Any) -> tuple[dict[str, Any], str, bool]:
    params = parameters(opts)
    n = params["members"]
    payload: dict[str, Any] = {"parameters": params, "backends": {}}
    ok = True
    rows = []
    with tempfile.TemporaryDirectory(prefix="nbc-roster-") as tmp_name:
        csv_path = Path(tmp_name) / f"roster-{n}.csv"
        csv_path.write_text(bl.synthetic_roster_csv(n, seed=3), encoding="utf-8")
        params["csv_bytes"] = csv_path.stat().st_size
        for backend in params["backends"]:
            runs = []
            for i in range(1, opts.runs + 1):
                print(f"[bench] {NAME} {backend} run {i}/{opts.runs}", flush=True)
                r = one_run(backend, csv_path, n, i, bool(opts.profile) and i == 1)
                print(
                    f"  CLI import {r['cli_import']['wall_s']} s, re-import "
                    f"{r['cli_reimport']['wall_s']} s, in-process import "
                    f"{r['in_process']['import_total_s']} s; peak RSS "
                    f"{r['cli_import']['peak_rss_mb']} MB; checks "
                    f"{'ok' if r['ok'] else 'FAILED ' + json.dumps(r['checks'])}",
                    flush=True,
                )
                if not r["ok"]:
                    for key in ("cli_import", "cli_reimport"):
                        if "error" in r[key]:
                            print(f"  {key}: {r[key]['error']}", flush=True)
                ok = ok and r["ok"]
                runs.append(r)
            med = bl.medians(runs)
            payload["backends"][backend] = {
                "median": med,
                "checks_ok_all_runs": all(r["ok"] for r in runs),
                "runs": runs,
            }
            inp = med.get("in_process", {})
            rows.append(
                [
                    backend,
                    med["cli_import"]["wall_s"],
                    med["cli_import"]["cpu_s"],
                    inp.get("import_total_s"),
                    med["cli_reimport"]["wall_s"],
                    inp.get("reimport_total_s"),
                    med["cli_startup"]["wall_s"],
                    med["cli_import"]["peak_rss_mb"],
                    med["cli_reimport"]["peak_rss_mb"],
                    "ok" if all(r["ok"] for r in runs) else "FAILED",
                ]
            )
    text = bl.table(
        [
            "db",
            "CLI import",
            "(CPU)",
            "in-proc import",
            "CLI re-import",
            "in-proc re-import",
            "CLI start-up",
            "RSS import MB",
            "RSS re-import MB",
            "checks",
        ],
        rows,
    )
    text += f"\n(s; medians of runs; {n} members; in-proc = import_roster + commit)"
    return payload, text, ok


# -- the in-process worker ------------------------------------------------------------------------
def worker(url: str, csv_path: Path, profile: bool) -> dict[str, Any]:
    import cProfile
    import io
    import pstats

    from nbcohort.cohorts.services import roster
    from nbcohort.cohorts.services.auth import Actor
    from nbcohort.cohorts.services.cohort_registry import create_cohort, get_cohort
    from nbcohort.cohorts.store import Store

    system = Actor.system()
    store = Store.open(url)
    out: dict[str, Any] = {}
    try:
        data = csv_path.read_bytes()
        # The steps import_roster takes, timed one by one (private helpers, read-only).
        problems = roster._Problems(csv_path.name)
        t0 = time.perf_counter()
        rows = roster._read_rows(roster._decode(data, problems), problems)
        t1 = time.perf_counter()
        roster._clean_rows(rows, {}, problems)
        t2 = time.perf_counter()
        out["parse_s"], out["validate_s"] = round(t1 - t0, 3), round(t2 - t1, 3)

        for label in ("import", "reimport"):
            with store.write() as s:
                cohort = get_cohort(s, SLUG)
                start = time.perf_counter()
                report = roster.import_roster(s, system, cohort, data, filename=csv_path.name)
                called = time.perf_counter()
            done = time.perf_counter()  # after the commit
            out[f"{label}_call_s"] = round(called - start, 3)
            out[f"{label}_commit_s"] = round(done - called, 3)
            out[f"{label}_total_s"] = round(done - start, 3)
            out[f"{label}_added"] = report.added
            out[f"{label}_unchanged"] = report.unchanged
        if profile:  # after the timed imports, into a second empty cohort: never in a figure
            with store.write() as s:
                other = create_cohort(s, system, SLUG + "-profile", "Roster profile")
                prof = cProfile.Profile()
                prof.enable()
                roster.import_roster(s, system, other, data, filename=csv_path.name)
                prof.disable()
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(30)
            out["profile_top_cumulative"] = buf.getvalue().splitlines()[:60]
    finally:
        store.close()
    out["worker_self_peak_rss_mb"] = bl.self_peak_rss_mb()
    return out


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--worker":
        result = worker(sys.argv[2], Path(sys.argv[3]), "--profile" in sys.argv[4:])
        print(json.dumps(result))
    else:
        sys.exit("run the benchmarks with: python tests/bench/run.py --only roster_import")
