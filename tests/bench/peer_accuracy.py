"""Benchmark: how close each way of aggregating peer reviews gets to the truth, in simulation.

1,000 authors each submit once and review k others' submissions (k = 3, 4, 5; a random cyclic
allocation, nobody reviews their own). A rubric has 3 criteria with levels 0..3. True scores are
continuous in [0, 3]; a reviewer sees true score + their bias + noise, clipped to the range and
rounded to the nearest level. Scenarios:

- mixed: 20% harsh and 20% lenient reviewers (bias about -/+0.7 points), the others nearly
  unbiased; 20% careless (noise sd 0.9, others 0.3); 5% give uniformly random scores.
- alike: no bias, everyone the same small noise (sd 0.3), nobody random.
- calibrated: mixed, plus 3 calibration submissions with instructor-set scores that every
  reviewer also scores (the model is told their scores; the baselines cannot use them).

Per method (median, ORA2 rule, mean, model): RMSE of the total score (sum over criteria) to the
true total, and the share of submissions whose total is within 5% of the maximum total of the
truth; mean over seeds. Acceptance: the model's RMSE is at least 15% below the median's in
mixed (and calibrated), and no worse than the best baseline's in alike (1% slack).
"""

from __future__ import annotations

import time
from typing import Any

import benchlib as bl
import numpy as np

from nbcohort.exchange import aggregate as agg

NAME = "peer_accuracy"
C, TOP = 3, 3
LEVELS = np.arange(TOP + 1, dtype=float)
SCALES = [agg.Scale(0.0, float(TOP))] * C
N_CAL = 3
MIXED_MARGIN = 0.15  # the model's RMSE at least this share below the median's
ALIKE_SLACK = 0.01  # the model's RMSE at most this share above the best baseline's
METHODS = ("median", "ora2", "mean", "model")


def parameters(opts: Any) -> dict[str, Any]:
    return {
        "authors": 1000,
        "criteria": C,
        "levels": LEVELS.tolist(),
        "k": [3] if opts.quick else [3, 4, 5],
        "seeds": 5 if opts.quick else 20,
        "scenarios": ["mixed", "alike", "calibrated"],
        "mixed_margin": MIXED_MARGIN,
        "alike_slack": ALIKE_SLACK,
    }


def simulate(
    scenario: str, n: int, k: int, seed: int
) -> tuple[agg.Observations, np.ndarray, dict[int, np.ndarray]]:
    """Reviews of n submissions (plus the calibration items when calibrated), the true scores
    of the n, and the calibration items' scores."""
    rng = np.random.default_rng(seed)
    n_cal = N_CAL if scenario == "calibrated" else 0
    quality = rng.normal(size=(n + n_cal, 1))
    truth = np.clip(1.7 + 0.7 * (0.75 * quality + 0.66 * rng.normal(size=(n + n_cal, C))), 0, TOP)
    if scenario == "alike":
        bias, noise, random = np.zeros(n), np.full(n, 0.3), np.zeros(n, dtype=bool)
    else:
        kind = rng.choice(3, size=n, p=[0.6, 0.2, 0.2])  # unbiased, harsh, lenient
        bias = np.array([0.0, -0.7, 0.7])[kind] + rng.normal(0, 0.15, n)
        noise = np.where(rng.random(n) < 0.2, 0.9, 0.3)
        random = rng.random(n) < 0.05
    perm = rng.permutation(n)
    sub = np.repeat(perm, k)  # submission perm[i] reviewed by perm[i+1..i+k]
    rev = perm[(np.repeat(np.arange(n), k) + np.tile(np.arange(1, k + 1), n)) % n]
    if n_cal:
        sub = np.concatenate([sub, np.repeat(np.arange(n, n + n_cal), n)])
        rev = np.concatenate([rev, np.tile(np.arange(n), n_cal)])
    seen = truth[sub] + bias[rev, None] + rng.normal(size=(sub.size, C)) * noise[rev, None]
    seen = np.clip(np.rint(seen), 0, TOP)  # levels are 0..TOP
    wild = random[rev]
    seen[wild] = rng.integers(0, TOP + 1, size=(int(wild.sum()), C))
    obs = agg.Observations(rev, sub, seen, n, n + n_cal)
    calibration = {n + j: truth[n + j] for j in range(n_cal)}
    return obs, truth[:n], calibration


def evaluate(scenario: str, n: int, k: int, seed: int) -> dict[str, Any]:
    obs, truth, calibration = simulate(scenario, n, k, seed)
    true_total = truth.sum(axis=1)
    start = time.perf_counter()
    fit = agg.fit_model(obs, SCALES, calibration=calibration or None)
    fit_s = time.perf_counter() - start
    estimates = {
        "median": agg.median(obs),
        "ora2": agg.ora2(obs),
        "mean": agg.mean(obs),
        "model": fit.scores,
    }
    out: dict[str, Any] = {}
    for name, est in estimates.items():
        err = est[:n].sum(axis=1) - true_total
        out[name] = {
            "rmse": float(np.sqrt(np.mean(err**2))),
            "within_5pct": float(np.mean(np.abs(err) <= 0.05 * C * TOP)),
        }
    out["model_iterations"] = fit.iterations
    out["model_converged"] = fit.converged
    out["model_fit_s"] = fit_s
    return out


def run(opts: Any) -> tuple[dict[str, Any], str, bool]:
    params = parameters(opts)
    n = params["authors"]
    payload: dict[str, Any] = {"parameters": params, "results": {}}
    rows, ok = [], True
    for scenario in params["scenarios"]:
        for k in params["k"]:
            print(f"[bench] {NAME} {scenario} k={k}, {params['seeds']} seeds", flush=True)
            per_seed = [evaluate(scenario, n, k, seed) for seed in range(params["seeds"])]
            summary: dict[str, Any] = {}
            for m in METHODS:
                summary[m] = {
                    key: round(float(np.mean([r[m][key] for r in per_seed])), 4)
                    for key in ("rmse", "within_5pct")
                }
                summary[m]["rmse_seed_sd"] = round(
                    float(np.std([r[m]["rmse"] for r in per_seed])), 4
                )
            summary["model_converged_all"] = all(r["model_converged"] for r in per_seed)
            summary["model_iterations_max"] = max(r["model_iterations"] for r in per_seed)
            summary["model_fit_s_median"] = round(
                float(np.median([r["model_fit_s"] for r in per_seed])), 4
            )
            model, med = summary["model"]["rmse"], summary["median"]["rmse"]
            best = min(summary[m]["rmse"] for m in ("median", "ora2", "mean"))
            summary["model_vs_median_rmse"] = round(model / med - 1, 4)
            summary["model_vs_best_baseline_rmse"] = round(model / best - 1, 4)
            if scenario == "alike":
                good = model <= best * (1 + ALIKE_SLACK)
                target = f"<= best baseline (+{ALIKE_SLACK:.0%})"
            else:
                good = model <= med * (1 - MIXED_MARGIN)
                target = f">= {MIXED_MARGIN:.0%} below median"
            summary["acceptance"] = {"target": target, "ok": good}
            ok = ok and good
            payload["results"][f"{scenario}-k{k}"] = {"summary": summary, "seeds": per_seed}
            rows.append(
                [scenario, k]
                + [f"{summary[m]['rmse']:.3f} / {summary[m]['within_5pct']:.0%}" for m in METHODS]
                + [
                    f"{summary['model_vs_median_rmse']:+.1%}",
                    f"{summary['model_vs_best_baseline_rmse']:+.1%}",
                    "ok" if good else "MISSED",
                ]
            )
    text = bl.table(
        ["scenario", "k", *METHODS, "model vs median", "vs best baseline", "acceptance"],
        rows,
    )
    text += (
        f"\n(RMSE of the total (0..{C * TOP}) / share within 5% of the maximum total; mean of "
        f"{params['seeds']} seeds, {n} submissions; acceptance: mixed and calibrated >= "
        f"{MIXED_MARGIN:.0%} below the median, alike <= best baseline)"
    )
    return payload, text, ok
