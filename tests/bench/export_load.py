"""Benchmark: one member's export (``nbcohort roster export``, what ``my_data()`` serves) in
a cohort of 10,000 members.

Per database backend, a template is prepared once (not timed): 10,000 members; the exported
member wrote 5,000 posts, each naming two other members (an @mention by username and a full
name), and shared 40 artifacts of 1 MB of random bytes (incompressible: the worst case for
the ZIP). Each run clones it and times the command as an instructor runs it (a subprocess:
wall time, CPU, exact peak RSS). Checks: the ZIP is whole, holds the 5,000 posts and the 40
files byte for byte, and names none of the members the posts named.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import tempfile
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import benchlib as bl

from tests.helpers.processes import isolated_env

NAME = "export"
SLUG = "bench"
MB = 1024 * 1024


def parameters(opts: Any) -> dict[str, Any]:
    return {
        "members": 2000 if opts.quick else 10_000,
        "posts": 1000 if opts.quick else 5000,
        "artifacts": 10 if opts.quick else 40,
        "artifact_bytes": MB,
        "runs": opts.runs,
        "backends": bl.backends(),
    }


def prepare(url: str, n: int, posts: int, artifacts: int, size: int) -> dict[str, Any]:
    """The cohort and the member's data (bulk inserts; not timed). Returns what to check."""
    from sqlalchemy import insert, select

    from nbcohort.cohorts.models import Artifact, Member, Post, Thread
    from nbcohort.cohorts.services.auth import Actor
    from nbcohort.cohorts.services.cohort_registry import create_cohort
    from nbcohort.cohorts.store import Store

    now = datetime.now(UTC)
    rng = random.Random(7)
    store = Store.open(url, upgrade=True)
    named: set[int] = set()
    digests = []
    try:
        with store.write() as s:
            cid = create_cohort(s, Actor.system(), SLUG, "Export benchmark").id
            s.execute(
                insert(Member),
                [{"cohort_id": cid, "username": f"m{i:05d}", "name": f"Person Number{i}",
                  "email": f"m{i:05d}@example.org", "role": "learner", "team": f"t{i % 4}",
                  "timezone": "UTC", "active": True, "email_pref": "all",
                  "joined_at": now, "updated_at": now} for i in range(n)],
            )  # fmt: skip
            ids = list(s.scalars(select(Member.id).where(Member.cohort_id == cid)))
            me = ids[0]
            s.execute(
                insert(Thread),
                [{"cohort_id": cid, "anchor": f"module-1/s{t}", "kind": "section",
                  "title": f"Section {t}", "created_at": now} for t in range(30)],
            )  # fmt: skip
            tids = list(s.scalars(select(Thread.id).where(Thread.cohort_id == cid)))
            rows = []
            for p in range(posts):
                a, b = rng.randrange(1, n), rng.randrange(1, n)
                named.update((a, b))
                body = f"@m{a:05d} thanks, and Person Number{b} too: post {p} about merges."
                rows.append({"thread_id": tids[p % 30], "author_id": me, "body_md": body,
                             "body_html": f"<p>{body}</p>",
                             "created_at": now - timedelta(minutes=posts - p)})  # fmt: skip
            s.execute(insert(Post), rows)
            for k in range(artifacts):
                content = rng.randbytes(size)
                digests.append(hashlib.sha256(content).hexdigest())
                s.execute(
                    insert(Artifact),
                    [{"cohort_id": cid, "author_id": me, "title": f"Notebook {k}",
                      "description": "", "tags": [], "license": "MIT",
                      "filename": f"nb{k}.ipynb", "content": content,
                      "sha256": digests[-1], "size": size, "source": "share",
                      "created_at": now}],
                )  # fmt: skip
    finally:
        store.close()
    return {"named": sorted(named), "digests": digests}


def cli_run(tmp: Path, url: str) -> dict[str, Any]:
    env = isolated_env(tmp)
    dest = tmp / "export.zip"
    dest.unlink(missing_ok=True)
    cmd = bl.cli(
        "roster", "export", "m00000", str(dest),
        f"--db-url={url}", f"--data-dir={tmp / 'data'}", f"--cohort={SLUG}",
    )  # fmt: skip
    res = bl.run_measured(cmd, env, cwd=tmp)
    out = {k: v for k, v in res.items() if k not in ("stdout", "stderr")}
    out["cpu_s"] = round(res["cpu_user_s"] + res["cpu_sys_s"], 3)
    out["output"] = res["stdout"].strip()[-300:]
    out["zip_mb"] = round(dest.stat().st_size / MB, 1) if dest.exists() else None
    if res["returncode"] != 0:
        out["error"] = res["stderr"][-2000:]
    return out


def check(tmp: Path, posts: int, expected: dict[str, Any]) -> dict[str, bool]:
    z = zipfile.ZipFile(tmp / "export.zip")
    listed = json.loads(z.read("artifacts.json"))
    text = z.read("posts.json").decode()
    named = expected["named"]
    leaked = re.search(
        "|".join(rf"\bm{i:05d}\b|Person Number{i}\b" for i in named[:2000]), text
    )  # fmt: skip
    return {
        "whole": z.testzip() is None,
        "posts": len(json.loads(text)) == posts,
        "files": sorted(hashlib.sha256(z.read(a["file"])).hexdigest() for a in listed)
        == sorted(expected["digests"]),
        "no_one_else_named": leaked is None,
    }


def run(opts: Any) -> tuple[dict[str, Any], str, bool]:
    params = parameters(opts)
    payload: dict[str, Any] = {"parameters": params, "backends": {}}
    ok, rows = True, []
    with tempfile.TemporaryDirectory(prefix="nbc-export-") as tmp_name:
        tmp = Path(tmp_name)
        for backend in params["backends"]:
            with bl.fresh_database(backend, tmp) as template:
                expected = prepare(
                    template, params["members"], params["posts"], params["artifacts"], MB
                )

                def measure(url: str, r: dict[str, Any], expected=expected) -> None:
                    r["export"] = cli_run(tmp, url)
                    r["checks"] = check(tmp, params["posts"], expected)
                    r["ok"] = all(r["checks"].values())
                    e = r["export"]
                    print(
                        f"  load {r['load_average_1m']:.1f}: export {e['wall_s']} s (CPU "
                        f"{e['cpu_s']} s, peak RSS {e['peak_rss_mb']} MB, ZIP {e['zip_mb']} MB); "
                        f"checks {'ok' if r['ok'] else 'FAILED ' + json.dumps(r['checks'])}",
                        flush=True,
                    )
                    if not r["ok"]:
                        print(f"  {e.get('error', e['output'])}", flush=True)

                runs = bl.runs_on_clones(NAME, backend, template, tmp, opts.runs, measure)
            ok = ok and all(r["ok"] for r in runs)
            med = bl.record_backend(payload, backend, runs)
            rows.append(
                [
                    backend,
                    med["export"]["wall_s"],
                    med["export"]["cpu_s"],
                    med["export"]["peak_rss_mb"],
                    med["export"]["zip_mb"],
                    "ok" if all(r["ok"] for r in runs) else "FAILED",
                ]
            )
    text = bl.table(["db", "export", "(CPU)", "peak RSS MB", "ZIP MB", "checks"], rows)
    text += (
        f"\n(s; medians of runs; {params['members']} members, {params['posts']} posts and "
        f"{params['artifacts']} x 1 MB files exported; the CLI as an instructor runs it)"
    )
    return payload, text, ok
