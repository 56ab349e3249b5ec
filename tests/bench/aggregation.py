"""Benchmark: aggregating a big review round, in-process.

10,000 submissions x 3 reviews x 3 criteria (levels 0..3; the "mixed" cohort of
peer_accuracy.py: harsh, lenient, careless and random reviewers). Per run: the wall time of
``fit_model`` and of each baseline (median, ORA2 rule, mean); then, in a separate untimed call,
the peak of memory allocated during each (tracemalloc, which numpy reports to). Target:
``fit_model`` under 2 s on this machine (reported, not asserted). The correctness check: the
model converged, gave a finite score in range to every submission, and the baselines agree with
a plain per-submission computation on a sample.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import benchlib as bl
import numpy as np
import peer_accuracy

from nbcohort.exchange import aggregate as agg

NAME = "aggregation"
SUBMISSIONS, K = 10_000, 3
TARGET_S = 2.0


def parameters(opts: Any) -> dict[str, Any]:
    return {
        "submissions": SUBMISSIONS,
        "reviews_per_submission": K,
        "criteria": peer_accuracy.C,
        "levels": peer_accuracy.LEVELS.tolist(),
        "scenario": "mixed",
        "runs": opts.runs,
        "target_fit_s": TARGET_S,
    }


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _peak_mb(fn: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return round(tracemalloc.get_traced_memory()[1] / bl.MB, 1)
    finally:
        tracemalloc.stop()


def _checks(obs: agg.Observations, fit: agg.ModelFit) -> dict[str, bool]:
    sample = np.random.default_rng(0).choice(obs.n_submissions, 50, replace=False)
    med, edx, avg = agg.median(obs), agg.ora2(obs), agg.mean(obs)
    plain_ok = True
    for s in sample:
        given = obs.scores[obs.submission == s]
        m = np.median(given, axis=0)
        plain_ok &= bool(np.allclose(med[s], m) and np.allclose(avg[s], given.mean(axis=0)))
        plain_ok &= bool(np.allclose(edx[s], m if len(given) % 2 else np.ceil(m)))
    return {
        "model_converged": fit.converged,
        "model_scores_finite": bool(np.isfinite(fit.scores).all()),
        "model_scores_in_range": bool(
            ((fit.scores >= 0) & (fit.scores <= peer_accuracy.TOP)).all()
        ),
        "baselines_match_plain_computation": plain_ok,
    }


def run(opts: Any) -> tuple[dict[str, Any], str, bool]:
    params = parameters(opts)
    obs, truth, _ = peer_accuracy.simulate("mixed", SUBMISSIONS, K, seed=11)
    params["reviews"] = int(obs.reviewer.size)
    scales = peer_accuracy.SCALES
    calls: dict[str, Callable[[], Any]] = {
        "fit_model": lambda: agg.fit_model(obs, scales),
        "median": lambda: agg.median(obs),
        "ora2": lambda: agg.ora2(obs),
        "mean": lambda: agg.mean(obs),
    }
    runs: list[dict[str, Any]] = []
    fit = None
    for i in range(1, opts.runs + 1):
        print(f"[bench] {NAME} run {i}/{opts.runs}", flush=True)
        one: dict[str, Any] = {}
        for name, fn in calls.items():
            seconds, out = _timed(fn)
            one[f"{name}_s"] = round(seconds, 4)
            if name == "fit_model":
                fit = out
                one["fit_iterations"] = out.iterations
        runs.append(one)
        print("  " + ", ".join(f"{k} {v}" for k, v in one.items()), flush=True)
    assert fit is not None
    peaks = {f"{name}_peak_alloc_mb": _peak_mb(fn) for name, fn in calls.items()}
    checks = _checks(obs, fit)
    med = {k: round(statistics.median(r[k] for r in runs), 4) for k in runs[0]}
    rmse = float(np.sqrt(np.mean((fit.scores.sum(axis=1) - truth.sum(axis=1)) ** 2)))
    payload = {
        "parameters": params,
        "median": med,
        "peak_alloc_mb": peaks,
        "process_peak_rss_mb": bl.self_peak_rss_mb(),
        "model_total_rmse": round(rmse, 4),
        "fit_under_target": med["fit_model_s"] < TARGET_S,
        "checks": checks,
        "runs": runs,
    }
    rows = [
        [name, med[f"{name}_s"], peaks[f"{name}_peak_alloc_mb"]]
        for name in ("fit_model", "median", "ora2", "mean")
    ]
    text = bl.table(["function", "time s (median)", "peak alloc MB"], rows)
    text += (
        f"\n({SUBMISSIONS} submissions x {K} reviews x {peer_accuracy.C} criteria; fit_model "
        f"{med['fit_iterations']:g} iterations; target < {TARGET_S:g} s: "
        f"{'met' if payload['fit_under_target'] else 'MISSED'}; process peak RSS "
        f"{payload['process_peak_rss_mb']} MB; checks "
        f"{'ok' if all(checks.values()) else 'FAILED ' + str(checks)})"
    )
    return payload, text, all(checks.values())
