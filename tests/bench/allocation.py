"""Benchmark: ``allocate()`` for a review round, in-process (a pure function: no database).

Cases (k = 3): 10,000 authors with no teams (the shuffled circle); 10,000 authors in teams of
8 under "require" (the team circle); 200 authors in two teams of 100 under "require" (off the
fast paths: the exact min-cost flow, then the reciprocal repair); 2,000 authors in two teams
of 1,000 (too big for the flow: circle construction with the best offsets, then repair).
``--quick`` uses 2,000 authors for the large cases. Per case: the median wall time of
``opts.runs`` calls, then one extra call under tracemalloc for the peak of Python allocations
(never in a timing), and ``check()`` on the result: any violation fails the benchmark. The
target (< 1 s for the 10,000-author cases) is reported, not asserted.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections import Counter
from typing import Any

import benchlib as bl

NAME = "allocation"
TARGET_S = 1.0


def cases(quick: bool) -> list[dict[str, Any]]:
    big = 2000 if quick else 10_000
    return [
        {"case": "no_teams", "n": big, "team_size": 0, "rule": "prefer", "path": "circle"},
        {"case": "teams_of_8", "n": big, "team_size": 8, "rule": "require", "path": "team circle"},
        {
            "case": "tight_flow",
            "n": 200,
            "team_size": 100,
            "rule": "require",
            "path": "flow + repair",
        },
        {
            "case": "tight_large",
            "n": 2000,
            "team_size": 1000,
            "rule": "require",
            "path": "construction + repair",
        },
    ]


def inputs(spec: dict[str, Any]) -> tuple[list[str], dict[str, str] | None]:
    authors = [f"learner{i:05d}" for i in range(spec["n"])]
    if not spec["team_size"]:
        return authors, None
    return authors, {a: f"team{i // spec['team_size']:04d}" for i, a in enumerate(authors)}


def one_case(spec: dict[str, Any], runs: int, k: int = 3) -> dict[str, Any]:
    from nbcohort.exchange.allocation import allocate, check

    authors, teams = inputs(spec)
    kwargs = {"teams": teams, "team_rule": spec["rule"]}
    times, results = [], []
    for seed in range(1, runs + 1):
        gc.collect()
        start = time.perf_counter()
        pairs = allocate(authors, k, seed=seed, **kwargs)
        times.append(time.perf_counter() - start)
        results.append(pairs)
    gc.collect()
    tracemalloc.start()
    allocate(authors, k, seed=runs + 1, **kwargs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    start = time.perf_counter()
    violations = [v for pairs in results for v in check(pairs, k, authors=authors, **kwargs)]
    check_s = (time.perf_counter() - start) / len(results)
    last = results[-1]
    pset = set(last)
    team_of = teams or {}
    loads = Counter(r for r, _ in last)
    return {
        **spec,
        "k": k,
        "runs": runs,
        "allocate_s_median": round(statistics.median(times), 4),
        "allocate_s_min": round(min(times), 4),
        "allocate_s_max": round(max(times), 4),
        "allocate_s_all": [round(t, 4) for t in times],
        "tracemalloc_peak_mb": round(peak / bl.MB, 1),
        "check_s": round(check_s, 4),
        "pairs": len(last),
        "reciprocal_pairs": sum((a, r) in pset for r, a in pset) // 2,
        "same_team_pairs": sum(
            bool(team_of.get(r)) and team_of.get(r) == team_of.get(a) for r, a in last
        ),
        "load_min_max": [min(loads.values()), max(loads.values())],
        "seeds_distinct": len({tuple(p) for p in results}),
        "violations": violations[:10],
        "ok": not violations,
    }


def run(opts: Any) -> tuple[dict[str, Any], str, bool]:
    specs = cases(opts.quick)
    payload: dict[str, Any] = {
        "parameters": {"runs": opts.runs, "k": 3, "target_s": TARGET_S, "cases": specs},
        "cases": {},
        "process_peak_rss_mb": None,
    }
    rows, ok = [], True
    for spec in specs:
        print(f"[bench] {NAME} {spec['case']} ({spec['n']} authors, {opts.runs} runs)", flush=True)
        result = one_case(spec, opts.runs)
        payload["cases"][spec["case"]] = result
        ok = ok and result["ok"]
        if not result["ok"]:
            print(f"  check() FAILED: {result['violations']}", flush=True)
        rows.append(
            [
                spec["case"],
                spec["n"],
                spec["team_size"] or "-",
                spec["rule"],
                spec["path"],
                result["allocate_s_median"],
                f"{result['allocate_s_min']}-{result['allocate_s_max']}",
                result["tracemalloc_peak_mb"],
                result["check_s"],
                result["reciprocal_pairs"],
                result["same_team_pairs"],
                "ok" if result["ok"] else "FAILED",
            ]
        )
    payload["process_peak_rss_mb"] = bl.self_peak_rss_mb()
    text = bl.table(
        ["case", "authors", "team", "rule", "path", "median s", "range s", "peak MB", "check s",
         "recip", "same-team", "check()"],
        rows,
    )  # fmt: skip
    text += (
        f"\n(k=3; allocate() wall time, median of {opts.runs} seeds; peak MB = tracemalloc peak"
        f" of one extra call; process peak RSS {payload['process_peak_rss_mb']} MB; target "
        f"< {TARGET_S} s for the large cases)"
    )
    return payload, text, ok


if __name__ == "__main__":
    import sys

    sys.exit("run the benchmarks with: python tests/bench/run.py --only allocation")
