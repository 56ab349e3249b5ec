"""Two checkouts of nbcohort benchmarked side by side: the same benchmark, run by run, in
alternating order (A B B A ...), so both meet the same hours of this shared machine.

    python tests/bench/side_by_side.py --peer ../before [--pairs 3] [--think-mean 1]

Each side runs its own ``tests/bench/run.py --only service_load --processes 1 --runs 1`` with
its own virtual environment (``<checkout>/.venv``, made by its ``dev.py``), so each side's
code seeds, serves and measures itself. The figures of every run and their medians go to
``tests/bench/results/side_by_side-<peer>-<this>.json`` of this checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIGURES = {  # name -> path in a run's JSON (service_load's per-run record)
    "read_p50_ms": ("mixed", "read", "p50_ms"),
    "read_p99_ms": ("mixed", "read", "p99_ms"),
    "post_p99_ms": ("mixed", "post", "p99_ms"),
    "writes_per_s": ("saturation", "writes_per_s"),
    "peak_rss_mb": ("service_peak_rss_mb",),
}


def commit(checkout: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def one_run(checkout: Path, think_mean: float) -> dict[str, dict[str, float]]:
    """One service_load run (one process, every backend) in ``checkout``: figure per backend."""
    python = checkout / ".venv" / "bin" / "python"
    if not python.exists():
        sys.exit(f"{checkout}: no .venv; run 'python3 dev.py test -k packaging' there first")
    args = ["--only", "service_load", "--processes", "1", "--runs", "1"]
    if think_mean != 1.0:
        args += ["--think-mean", str(think_mean)]
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(checkout)}
    subprocess.run(
        [str(python), str(checkout / "tests" / "bench" / "run.py"), *args],
        cwd=checkout,
        env=env,
        check=True,
    )
    name = "service_load" + (f"-m200-think{think_mean:g}" if think_mean != 1.0 else "") + "-p1"
    result = json.loads((checkout / "tests" / "bench" / "results" / f"{name}.json").read_text())
    out = {}
    for backend, data in result["backends"].items():
        record = data["runs"][0]
        out[backend] = {key: _dig(record, path) for key, path in FIGURES.items()}
    return out


def _dig(record: dict[str, Any], path: tuple[str, ...]) -> float:
    value: Any = record
    for part in path:
        value = value[part]
    return float(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", type=Path, required=True, help="the other checkout")
    parser.add_argument("--pairs", type=int, default=3, help="runs of each side (default 3)")
    parser.add_argument("--think-mean", type=float, default=1.0, help="mean think time, s")
    opts = parser.parse_args(argv)
    sides = {"peer": opts.peer.resolve(), "this": REPO}
    labels = {side: commit(path) for side, path in sides.items()}
    runs: dict[str, list[dict[str, dict[str, float]]]] = {"peer": [], "this": []}
    for n in range(opts.pairs):
        order = ["peer", "this"] if n % 2 == 0 else ["this", "peer"]
        for side in order:
            print(f"[side-by-side] pair {n + 1}/{opts.pairs}: {side} ({labels[side]})", flush=True)
            runs[side].append(one_run(sides[side], opts.think_mean))
    medians: dict[str, dict[str, dict[str, float]]] = {}
    lines = ["| backend | figure | " + " | ".join(f"{s} {labels[s]}" for s in runs) + " |"]
    lines.append("|---|---|---|---|")
    for side, results in runs.items():
        for backend in results[0]:
            medians.setdefault(side, {})[backend] = {
                key: statistics.median(r[backend][key] for r in results) for key in FIGURES
            }
    for backend in medians["this"]:
        for key in FIGURES:
            cells = []
            for s in runs:
                each = ", ".join(f"{r[backend][key]:g}" for r in runs[s])
                cells.append(f"{medians[s][backend][key]:g} ({each})")
            lines.append(f"| {backend} | {key} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    path = HERE / "results" / f"side_by_side-{labels['peer']}-{labels['this']}.json"
    path.write_text(
        json.dumps(
            {"commits": labels, "think_mean_s": opts.think_mean, "runs": runs, "medians": medians},
            indent=1,
        )
    )
    print(f"\nmedian (every run) per side -> {path.relative_to(REPO)}\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
