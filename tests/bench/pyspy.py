"""Profiling the service under load: py-spy's sampled stacks, summarised by area.

Used by ``service_load --profile``: where a request's time goes (markdown, the database
driver, SQLAlchemy, tornado, JSON, gzip, our own code), by self and inclusive share.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found if Path(found).exists() else None


def start_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    exe = py_spy()
    if exe is None:
        print("  (--profile: py-spy not found; pip install py-spy)", flush=True)
        return None
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "200",
            "--idle",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# Where a request's time goes, by the innermost frame that matches (checked in this order).
_BUCKETS = [
    ("idle: event loop waiting for requests", ("select (selectors.py)", "poll (selectors.py)")),
    ("markdown render + sanitize", ("sanitize.py", "markdown_it", "nh3")),
    (
        "DB driver (execute/fetch/commit)",
        (
            "do_execute",
            "do_commit",
            "do_rollback",
            "sqlite3",
            "psycopg",
            "fetchall",
            "_fetchall_impl",
            "do_executemany",
            "_exec_single_context",
        ),
    ),
    ("json encode/decode", ("json/encoder.py", "json/decoder.py", "json/__init__.py")),
    ("gzip", ("gzip.py", "zlib")),
    ("tornado HTTP / IOLoop", ("tornado/",)),
    ("asyncio event loop", ("asyncio/",)),
    ("SQLAlchemy ORM + Core", ("sqlalchemy/",)),
    ("nbcohort code", ("nbcohort", "cohorts/")),
]


def summarize_profile(path: Path, top: int = 25) -> dict[str, Any] | None:
    """Self and inclusive time from py-spy's raw (collapsed stacks) output."""
    if not path.exists():
        return None
    selfs: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        selfs[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
        for f in reversed(frames):
            name = next((b for b, keys in _BUCKETS if any(k in f for k in keys)), None)
            if name:
                buckets[name] += n
                break
        else:
            buckets["other"] += n
    if not total:
        return None

    def pct(c: Counter[str], k: int) -> list[list[Any]]:
        return [[name, round(100 * v / total, 1)] for name, v in c.most_common(k)]

    return {
        "samples": total,
        "self_pct": pct(selfs, top),
        "inclusive_pct": pct(incl, top * 2),
        "by_area_pct": pct(buckets, len(_BUCKETS) + 1),
    }
