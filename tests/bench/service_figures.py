"""Figures of the service benchmark: latency statistics, per-phase summaries, and the check
that every acknowledged post is in the database exactly once."""

from __future__ import annotations

import re
import statistics
from typing import Any

import benchlib as bl

_NONCE = re.compile(r"nonce:([0-9a-f]{32})")


def lat_stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "p50_ms": round(bl.percentile(values, 50) or 0, 2),
        "p95_ms": round(bl.percentile(values, 95) or 0, 2),
        "p99_ms": round(bl.percentile(values, 99) or 0, 2),
        "max_ms": round(max(values), 2),
        "mean_ms": round(statistics.fmean(values), 2),
    }


def verify(url: str, seeded: int, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Every acknowledged post is in the database once, with its body; nothing else appeared."""
    from sqlalchemy import select

    from nbcohort.cohorts.models import Post
    from nbcohort.cohorts.store import Store

    acked = [(int(i), n) for r in results for i, n in r["acked"]]
    unacked = {n for r in results for n in r["unacked_nonces"]}
    store = Store(url)
    try:
        with store.read() as s:
            rows = s.execute(select(Post.id, Post.body_md)).all()
    finally:
        store.close()
    ids_by_nonce: dict[str, list[int]] = {}
    for post_id, body in rows:
        for nonce in _NONCE.findall(body):
            ids_by_nonce.setdefault(nonce, []).append(post_id)
    acked_nonces = {n for _, n in acked}
    lost = sum(1 for _, n in acked if n not in ids_by_nonce)
    duplicated = sum(1 for n, ids in ids_by_nonce.items() if len(ids) > 1)
    wrong_id = sum(1 for i, n in acked if n in ids_by_nonce and i not in ids_by_nonce[n])
    ack_twice = len(acked) - len({i for i, _ in acked})  # one id acknowledged for two posts
    committed_unacked = sum(1 for n in unacked if n in ids_by_nonce)
    strangers = sum(1 for n in ids_by_nonce if n not in acked_nonces and n not in unacked)
    expected = seeded + len(acked) + committed_unacked
    out = {
        "acknowledged": len(acked),
        "db_posts": len(rows),
        "expected_db_posts": expected,
        "count_matches": len(rows) == expected,
        "lost": lost,
        "duplicated": duplicated,
        "wrong_id": wrong_id,
        "acknowledged_twice": ack_twice,
        "unexpected_posts": strangers,
        "unacknowledged_sent": len(unacked),
        "unacknowledged_but_committed": committed_unacked,
    }
    out["ok"] = bool(out["count_matches"]) and not (
        lost or duplicated or wrong_id or ack_twice or strangers
    )
    return out


def phase_figures(res: dict[str, Any], phase: str) -> dict[str, Any]:
    lat = res["latency_ms"]
    elapsed = res["elapsed_s"]
    out: dict[str, Any] = {
        "elapsed_s": elapsed,
        "drain_s": res["drain_s"],
        "generator_cpu_s": res["generator_cpu_s"],
    }
    total = sum(len(v) for v in lat.values())
    out["throughput_rps"] = round(total / elapsed, 1)
    for kind in ("read", "post", "react"):
        if kind in lat or phase in ("mixed", "serial"):
            out[kind] = lat_stats(lat.get(kind, []))
            out[kind]["rps"] = round(len(lat.get(kind, [])) / elapsed, 1)
            if lat.get(kind):
                sent = res.get("response_bytes", {}).get(kind, 0)
                out[kind]["mean_response_bytes"] = round(sent / len(lat[kind]))
    if phase == "saturation":
        out["writes_per_s"] = round(len(res["acked"]) / elapsed, 1)
    out["errors"] = sum(
        n
        for kind in res["status"].values()
        for code, n in kind.items()
        if not code.startswith(("2", "3"))
    )
    out["error_kinds"] = res["errors"]
    out["status"] = res["status"]
    return out


def dig(d: dict[str, Any], *path: str) -> Any:
    """The value at ``path`` in nested dicts, or None."""
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)  # type: ignore[assignment]
    return d
