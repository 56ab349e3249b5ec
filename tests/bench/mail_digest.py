"""Benchmark: ``nbcohort mail digest`` for a cohort of 10,000 members into the outbox.

Per database backend, a template database is prepared once (not timed): one cohort of
10,000 members (each with an address, last seen four days ago), 600 posts in 30 threads over
the last three days, and 20,000 unread notifications (mentions and reviews assigned, two per
member). Each run clones it and times the command as cron runs it (a subprocess: wall time,
CPU, exact peak RSS), then runs it again (nothing more may be queued). Checks: one digest
per member, none the second time, every dedupe key once.
"""

from __future__ import annotations

import json
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import benchlib as bl

from tests.helpers.processes import isolated_env

NAME = "mail_digest"
SLUG = "bench"


def parameters(opts: Any) -> dict[str, Any]:
    return {
        "members": 2000 if opts.quick else 10_000,
        "posts": 600,
        "threads": 30,
        "notifications_per_member": 2,
        "runs": opts.runs,
        "backends": bl.backends(),
    }


def prepare(url: str, n: int, posts: int, threads: int, per_member: int) -> None:
    """The cohort as the digest finds it (bulk inserts; not timed)."""
    from sqlalchemy import insert, select

    from nbcohort.cohorts.models import Member, Notification, Post, Thread
    from nbcohort.cohorts.services.auth import Actor
    from nbcohort.cohorts.services.cohort_registry import create_cohort
    from nbcohort.cohorts.store import Store

    now = datetime.now(UTC)
    store = Store.open(url, upgrade=True)
    try:
        with store.write() as s:
            cohort = create_cohort(s, Actor.system(), SLUG, "Digest benchmark")
            s.flush()
            cid = cohort.id
            s.execute(
                insert(Member),
                [
                    {"cohort_id": cid, "username": f"m{i:05d}", "name": f"Member {i}",
                     "email": f"m{i:05d}@example.org", "role": "learner", "team": f"t{i % 4}",
                     "timezone": "Europe/Paris", "active": True, "email_pref": "all",
                     "joined_at": now - timedelta(days=10), "updated_at": now,
                     "last_seen_at": now - timedelta(days=4)}
                    for i in range(n)
                ],
            )  # fmt: skip
            ids = list(s.scalars(select(Member.id).where(Member.cohort_id == cid)))
            s.execute(
                insert(Thread),
                [{"cohort_id": cid, "anchor": f"module-1/s{t}", "kind": "section",
                  "title": f"Section {t}", "created_at": now - timedelta(days=3)}
                 for t in range(threads)],
            )  # fmt: skip
            tids = list(s.scalars(select(Thread.id).where(Thread.cohort_id == cid)))
            s.execute(
                insert(Post),
                [{"thread_id": tids[p % threads], "author_id": ids[(p * 7) % n],
                  "body_md": f"post {p} with a question", "body_html": f"<p>post {p}</p>",
                  "created_at": now - timedelta(minutes=4000 - p * 6)}
                 for p in range(posts)],
            )  # fmt: skip
            pids = list(s.scalars(select(Post.id)))
            rows = []
            for i, member in enumerate(ids):
                rows.append({"member_id": member, "kind": "mention", "post_id": pids[i % posts],
                             "actor_id": ids[(i + 1) % n],
                             "created_at": now - timedelta(hours=30)})  # fmt: skip
                if per_member > 1:
                    rows.append({"member_id": member, "kind": "review_assigned",
                                 "data": {"assignment": "project-1", "count": 3},
                                 "created_at": now - timedelta(hours=20)})  # fmt: skip
            s.execute(insert(Notification), rows)
    finally:
        store.close()


def outbox_counts(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from nbcohort.cohorts.models import OutboxMessage
    from nbcohort.cohorts.store import Store

    store = Store(url)
    try:
        with store.read() as s:
            row = s.execute(
                select(func.count(), func.count(func.distinct(OutboxMessage.dedupe_key)))
            ).one()
            return {"messages": row[0], "distinct_keys": row[1]}
    finally:
        store.close()


def cli_run(tmp: Path, url: str) -> dict[str, Any]:
    env = isolated_env(tmp)
    cmd = bl.cli("mail", "digest", f"--db-url={url}", f"--data-dir={tmp / 'data'}")
    res = bl.run_measured(cmd, env, cwd=tmp)
    out = {k: v for k, v in res.items() if k not in ("stdout", "stderr")}
    out["cpu_s"] = round(res["cpu_user_s"] + res["cpu_sys_s"], 3)
    out["output"] = res["stdout"].strip()[-300:]
    match = re.match(r"(\d+) digests queued", out["output"])
    out["queued"] = int(match.group(1)) if match else -1
    if res["returncode"] != 0:
        out["error"] = res["stderr"][-2000:]
    return out


def run(opts: Any) -> tuple[dict[str, Any], str, bool]:
    params = parameters(opts)
    n = params["members"]
    payload: dict[str, Any] = {"parameters": params, "backends": {}}
    ok, rows = True, []
    with tempfile.TemporaryDirectory(prefix="nbc-digest-") as tmp_name:
        tmp = Path(tmp_name)
        for backend in params["backends"]:
            with bl.fresh_database(backend, tmp) as template:
                prepare(template, n, params["posts"], params["threads"], 2)

                def measure(url: str, r: dict[str, Any]) -> None:
                    r["digest"] = cli_run(tmp, url)
                    r["again"] = cli_run(tmp, url)
                    r["outbox"] = outbox_counts(url)
                    r["checks"] = {
                        "one_digest_per_member": r["digest"]["queued"] == n,
                        "none_the_second_time": r["again"]["queued"] == 0,
                        "outbox_rows": r["outbox"]["messages"] == n,
                        "distinct_keys": r["outbox"]["distinct_keys"] == n,
                    }
                    r["ok"] = all(r["checks"].values())
                    print(
                        f"  load {r['load_average_1m']:.1f}: "
                        f"digest {r['digest']['wall_s']} s (CPU {r['digest']['cpu_s']} s, "
                        f"peak RSS {r['digest']['peak_rss_mb']} MB), again "
                        f"{r['again']['wall_s']} s; checks "
                        f"{'ok' if r['ok'] else 'FAILED ' + json.dumps(r['checks'])}",
                        flush=True,
                    )
                    if not r["ok"]:
                        print(f"  {r['digest'].get('error', r['digest']['output'])}", flush=True)

                runs = bl.runs_on_clones(NAME, backend, template, tmp, opts.runs, measure)
            ok = ok and all(r["ok"] for r in runs)
            med = bl.record_backend(payload, backend, runs)
            rows.append(
                [
                    backend,
                    med["digest"]["wall_s"],
                    med["digest"]["cpu_s"],
                    med["digest"]["peak_rss_mb"],
                    med["again"]["wall_s"],
                    "ok" if all(r["ok"] for r in runs) else "FAILED",
                ]
            )
    text = bl.table(["db", "digest run", "(CPU)", "peak RSS MB", "second run", "checks"], rows)
    text += f"\n(s; medians of runs; {n} members, each queued one digest; the CLI as cron runs it)"
    return payload, text, ok
