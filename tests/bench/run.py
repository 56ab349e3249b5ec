"""Run the benchmarks (not timed tests) and write JSON results to tests/bench/results/.

    python tests/bench/run.py [--quick] [--only NAME] [--runs N] [--profile]

Benchmarks: service_load (the HTTP service under 200 concurrent members, then write
saturation), roster_import (a 10,000-member CSV through the CLI), widget_render (the
discussion widget's first render in a kernel, 50 and 5,000 posts), and for peer review:
allocation (10,000 submissions, k=3), aggregation (10,000 x 3 reviews), peer_accuracy (the
model against median, ORA2's rule and mean on simulated rounds) and packets (1,000
submissions -> 3,000 anonymized packets, beside nbgrader's own collect), cadence_tick
(``nbcohort cadence tick`` for 10,000 members with nothing due), mail_digest (``nbcohort
mail digest`` for 10,000 members into the outbox), metrics (every metric of 1,000 members
and 500,000 activity events), search (100,000 posts through the service), live_watch
(200 idle notebooks' live widgets: requests, the service's CPU, a change's wake-up) and
recognition (badge backfill over 1,000 members and 500,000 events, champion suggestion
over 10,000), hub_load (1,000 learners with hub tokens through HubAuth, stepped 50, 200,
1,000; PostgreSQL only), exchange_upload (a 64 MiB release into the exchange's database
store while a learner reads). Each runs on SQLite and, when NBCOHORT_TEST_DB_URL names a
PostgreSQL server, on a fresh PostgreSQL database too.
Machines are shared and noisy: every figure is measured in several runs and the median is
reported. Targets are reported, never asserted; the exit code is 1 only when a correctness
check fails (a lost or duplicated post, a re-import that changed the roster).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aggregation
import allocation
import benchlib as bl
import cadence_tick
import exchange_upload
import export_load
import hub_load
import live_watch
import mail_digest
import metrics_load
import packets
import pages_render
import peer_accuracy
import recognition
import roster_import
import search_load
import service_load
import widget_render

BENCHMARKS = {
    service_load.NAME: service_load,
    roster_import.NAME: roster_import,
    widget_render.NAME: widget_render,
    allocation.NAME: allocation,
    aggregation.NAME: aggregation,
    peer_accuracy.NAME: peer_accuracy,
    packets.NAME: packets,
    cadence_tick.NAME: cadence_tick,
    mail_digest.NAME: mail_digest,
    metrics_load.NAME: metrics_load,
    search_load.NAME: search_load,
    live_watch.NAME: live_watch,
    pages_render.NAME: pages_render,
    recognition.NAME: recognition,
    export_load.NAME: export_load,
    hub_load.NAME: hub_load,
    exchange_upload.NAME: exchange_upload,
}


def suffix(name: str, opts: argparse.Namespace) -> str:
    """Results of non-default settings never overwrite the default results."""
    parts = ["quick"] if opts.quick else []
    if name == service_load.NAME and (opts.members != 200 or opts.think_mean != 1.0):
        parts.append(f"m{opts.members}-think{opts.think_mean:g}")
    if name == service_load.NAME and opts.processes != [1, 2]:
        parts.append("p" + "-".join(map(str, opts.processes)))
    if opts.profile:
        parts.append("profile")
    return "".join("-" + p for p in parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short phases and a smaller roster; one run unless --runs",
    )
    parser.add_argument(
        "--only",
        choices=sorted(BENCHMARKS),
        action="append",
        help="run only this benchmark (repeatable)",
    )
    parser.add_argument("--runs", type=int, default=None, help="runs per figure (default 3)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run 1 also profiles: py-spy on the service (service_load; perturbs that run), "
        "cProfile of import_roster (roster_import, an extra untimed import); results go to "
        "<name>-profile.json",
    )
    parser.add_argument(
        "--members", type=int, default=200, help="service_load: concurrent members (default 200)"
    )
    parser.add_argument(
        "--think-mean",
        type=float,
        default=1.0,
        help="service_load: mean think time in the mixed phase, s (default 1)",
    )
    parser.add_argument(
        "--processes",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[1, 2],
        help="service_load: service process counts to compare, run by run (default 1,2)",
    )
    opts = parser.parse_args(argv)
    if opts.runs is None:
        opts.runs = 1 if opts.quick else 3
    if opts.runs < 1:
        parser.error("--runs must be at least 1")
    names = opts.only or list(BENCHMARKS)
    machine = bl.machine_info(postgres=bool(bl.PG_URL))
    machine["tmp_filesystem"] = bl.filesystem_of(Path("/tmp").resolve())
    print(
        f"[bench] {machine['cpu_model']}, {machine['cpu_count_logical']} CPUs, "
        f"{machine['ram_total_mb']} MB RAM, Python {machine['python']}, SQLite "
        f"{machine['sqlite_version']}, PostgreSQL {machine['postgres_server_version'] or '-'}",
        flush=True,
    )
    if not bl.PG_URL:
        print("[bench] PostgreSQL leg skipped: set NBCOHORT_TEST_DB_URL to run it", flush=True)
    ok = True
    reports = []
    for name in names:
        start = time.perf_counter()
        payload, text, good = BENCHMARKS[name].run(opts)
        elapsed = round(time.perf_counter() - start, 1)
        result = {
            "benchmark": name,
            "machine": machine,
            "quick": opts.quick,
            "runs": opts.runs,
            "elapsed_s": elapsed,
            **payload,
        }
        path = bl.write_result(name + suffix(name, opts), result)
        reports.append(f"\n== {name} ({elapsed} s) -> {path.relative_to(bl.REPO)}\n{text}")
        ok = ok and good
    print("".join(reports))
    if not ok:
        print("\n[bench] a correctness check FAILED (see the JSON results)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
