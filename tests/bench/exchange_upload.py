"""Benchmark: the service exchange while an instructor uploads a large release.

Per database backend, one ``nbcohort serve`` with the exchange's database store (the store
whose publish writes every byte as rows: the heaviest unit of work the service runs). Each
run uploads a 64 MiB release (64 files of 1 MiB random bytes) while a learner reads
``/api/v1/me`` every 5 ms; it reports the upload's time, the learner's median and worst
read while it was on its way, and the service's peak RSS. Checks: the upload is answered
201, every read 200, and the release downloads back byte for byte (size and SHA-256).
"""

from __future__ import annotations

import hashlib
import io
import os
import statistics
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import benchlib as bl
import requests

from tests.helpers.processes import ServiceProcess

NAME = "exchange_upload"
SLUG = "bench"
MB = 1 << 20


def parameters(opts: Any) -> dict[str, Any]:
    return {
        "archive_mb": 16 if opts.quick else 64,
        "read_every_s": 0.005,
        "runs": opts.runs,
        "backends": bl.backends(),
    }


def _archive(mb: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:") as tar:
        for i in range(mb):
            info = tarfile.TarInfo(f"data/part{i:03d}.bin")
            info.size = MB
            tar.addfile(info, io.BytesIO(os.urandom(MB)))
    return out.getvalue()


def _people(url: str) -> tuple[str, str]:
    from nbcohort.cohorts.services.auth import Actor, mint_token
    from nbcohort.cohorts.services.cohort_registry import create_cohort
    from nbcohort.cohorts.services.members import add_member
    from nbcohort.cohorts.store import Store

    system = Actor.system()
    store = Store.open(url, upgrade=True)
    try:
        with store.write() as s:
            c = create_cohort(s, system, SLUG, "Exchange benchmark")
            ivo = add_member(s, system, c, name="Ivo", email="ivo@example.org",
                             role="instructor", username="ivo")  # fmt: skip
            ana = add_member(s, system, c, name="Ana", email="ana@example.org",
                             role="learner", username="ana")  # fmt: skip
            return mint_token(s, system, ivo, "bench"), mint_token(s, system, ana, "bench")
    finally:
        store.close()


def _one_upload(svc: ServiceProcess, tokens: tuple[str, str], body: bytes, n: int,
                every: float) -> dict[str, Any]:  # fmt: skip
    stop, statuses = threading.Event(), set[int]()
    reads: list[tuple[float, float]] = []  # (when it started, how long it took)

    def learner() -> None:
        with requests.Session() as http:
            http.headers["Authorization"] = f"token {tokens[1]}"
            while not stop.is_set():
                started = time.perf_counter()
                statuses.add(http.get(svc.url + "/api/v1/me", timeout=60).status_code)
                reads.append((started, time.perf_counter() - started))
                time.sleep(every)

    reader = threading.Thread(target=learner)
    reader.start()
    time.sleep(0.3)
    sampler = bl.RssSampler(svc.proc.pid) if svc.proc is not None else None
    if sampler is not None:
        sampler.start()
    started = time.perf_counter()
    resp = requests.put(f"{svc.url}/api/v1/exchange/{SLUG}/releases/ps{n}", data=body,
                        headers={"Authorization": f"token {tokens[0]}"}, timeout=600)  # fmt: skip
    ended = time.perf_counter()
    upload_s = ended - started
    stop.set()
    reader.join()  # a read held up by the upload ends after it: it counts
    during = [took for when, took in reads if started <= when < ended]
    peak = sampler.stop() if sampler is not None else None
    back = requests.get(f"{svc.url}/api/v1/exchange/{SLUG}/releases/ps{n}",
                        headers={"Authorization": f"token {tokens[1]}"}, timeout=600)  # fmt: skip
    return {
        "upload_s": round(upload_s, 3),
        "reads_during": len(during),
        "read_median_ms": round(statistics.median(during) * 1000, 1) if during else None,
        "read_worst_ms": round(max(during) * 1000, 1) if during else None,
        "service_peak_rss_mb": peak,
        "checks": {
            "upload_201": resp.status_code == 201,
            "reads_200": statuses == {200},
            "same_bytes": hashlib.sha256(back.content).digest() == hashlib.sha256(body).digest(),
        },
    }


def run(opts: Any) -> tuple[dict[str, Any], str, bool]:
    params = parameters(opts)
    payload: dict[str, Any] = {"parameters": params, "backends": {}}
    body = _archive(params["archive_mb"])
    ok, rows = True, []
    with tempfile.TemporaryDirectory(prefix="nbc-exchange-") as tmp_name:
        tmp = Path(tmp_name)
        for backend in params["backends"]:
            with bl.fresh_database(backend, tmp) as url:
                tokens = _people(url)
                svc = ServiceProcess(tmp / backend, url)
                (Path(svc.env["JUPYTER_CONFIG_PATH"]) / "jupyter_config.py").write_text(
                    "c.ExchangeSettings.store = 'database'\n"
                    f"c.ExchangeSettings.max_upload_bytes = {(params['archive_mb'] + 8) * MB}\n"
                )
                svc.start()
                runs = []
                try:
                    for n in range(opts.runs):
                        r = _one_upload(svc, tokens, body, n, params["read_every_s"])
                        r["load_average_1m"] = os.getloadavg()[0]
                        r["ok"] = all(r["checks"].values())
                        runs.append(r)
                        print(
                            f"  {backend} load {r['load_average_1m']:.1f}: upload "
                            f"{r['upload_s']} s; reads meanwhile {r['reads_during']}, median "
                            f"{r['read_median_ms']} ms, worst {r['read_worst_ms']} ms; peak RSS "
                            f"{r['service_peak_rss_mb']} MB; checks "
                            f"{'ok' if r['ok'] else r['checks']}",
                            flush=True,
                        )
                finally:
                    svc.stop()
            ok = ok and all(r["ok"] for r in runs)
            med = bl.record_backend(payload, backend, runs)
            rows.append([backend, med["upload_s"], med["read_median_ms"], med["read_worst_ms"],
                         med["service_peak_rss_mb"], "ok" if all(r["ok"] for r in runs)
                         else "FAILED"])  # fmt: skip
    text = bl.table(["db", "upload s", "read median ms", "read worst ms", "peak RSS MB",
                     "checks"], rows)  # fmt: skip
    text += (
        f"\n(medians of runs; a {params['archive_mb']} MiB release into the database store "
        "while a learner reads every 5 ms)"
    )
    return payload, text, ok
