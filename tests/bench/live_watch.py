"""Benchmark: what idle notebooks with live widgets cost the service, and how fast a change
reaches them.

Per backend: a cohort of 200 members with tokens, and ``nbcohort serve`` as a user starts
it. Then:

- idle: the service alone for ``IDLE_S`` seconds (its CPU: the floor);
- watched: 200 kernels' watchers (one thread each, the kernel's protocol: ``client.watch``
  with the marks of a thread and the member's notifications, asking again at once after
  each answer, as ``widgets/_live.py`` does) for ``WATCH_S`` seconds with nothing changing:
  requests per minute per notebook, the service's CPU (user + system, /proc) and RSS;
- a change: another member posts in the thread all 200 watch; the time from the post's
  answer to each watcher's answer (median and slowest).

``python tests/bench/run.py --only live_watch``.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import benchlib as bl
import psutil

NAME = "live_watch"
ANCHOR = "module-1/reading-files"
WAIT_S = 25.0  # what the kernel's watcher asks for (widgets/_live.py)


def parameters(opts: Any) -> dict[str, Any]:
    return {
        "watchers": 50 if opts.quick else 200,
        "idle_s": 10 if opts.quick else 30,
        "watch_s": 30 if opts.quick else 120,
        "wait_s": WAIT_S,
        "backends": bl.backends(),
    }


def prepare(url: str, n: int) -> list[str]:
    """The cohort, ``n`` learners and a facilitator, a first post; their tokens."""
    from nbcohort.cohorts.schema import upgrade_db
    from nbcohort.cohorts.services.auth import Actor, mint_token
    from nbcohort.cohorts.services.cohort_registry import create_cohort
    from nbcohort.cohorts.services.members import add_member
    from nbcohort.cohorts.services.posts import create_post
    from nbcohort.cohorts.store import Store, make_engine

    engine = make_engine(url)
    upgrade_db(engine)
    engine.dispose()
    store, system = Store.open(url), Actor.system()
    try:
        with store.write() as s:
            cohort = create_cohort(s, system, "live", "Live")
            people = [
                add_member(s, system, cohort, name=f"Member {i}", email=f"m{i}@example.org",
                           username=f"m{i}", role="facilitator" if i == 0 else "learner")
                for i in range(n + 1)
            ]  # fmt: skip
            s.flush()
            create_post(s, Actor.of(people[0]), cohort, ANCHOR, "Welcome!")
            return [mint_token(s, system, m, "bench") for m in people]
    finally:
        store.close()


def _cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


class Watchers:
    """``n`` kernels' watchers, each asking again at once after every answer."""

    def __init__(self, url: str, tokens: list[str]) -> None:
        from nbcohort.cohorts.client import CohortClient

        self.clients = [CohortClient(url, t, timeout=WAIT_S + 15, retries=0) for t in tokens]
        self.requests = self.errors = 0
        self.woken: list[float] = []  # monotonic time each watcher heard of the change
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(c,)) for c in self.clients]

    def _loop(self, client: Any) -> None:
        version = client.thread(ANCHOR)["version"]
        mark = client.notification_feed(limit=1)["mark"]
        while not self.stop.is_set():
            try:
                answer = client.watch({ANCHOR: version}, mark, WAIT_S)
            except Exception:
                with self.lock:
                    self.errors += 1
                time.sleep(1)
                continue
            with self.lock:
                self.requests += 1
            if answer.get("changed"):
                with self.lock:
                    self.woken.append(time.monotonic())
                version = answer.get("threads", {}).get(ANCHOR, version)
                mark = answer.get("notifications", mark)

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(WAIT_S + 20)
        for c in self.clients:
            c.close()


def one_backend(backend: str, params: dict[str, Any]) -> dict[str, Any]:
    from nbcohort.cohorts.client import CohortClient
    from tests.helpers.processes import ServiceProcess

    n = params["watchers"]
    with tempfile.TemporaryDirectory(prefix="nbc-live-") as tmp_name:
        tmp = Path(tmp_name)
        with bl.fresh_database(backend, tmp) as url:
            tokens = prepare(url, n)
            service = ServiceProcess(tmp, url).start()
            try:
                assert service.proc is not None
                proc = psutil.Process(service.proc.pid)
                time.sleep(2)
                cpu0 = _cpu_s(proc)
                time.sleep(params["idle_s"])
                idle_cpu = (_cpu_s(proc) - cpu0) / params["idle_s"]
                watchers = Watchers(service.url, tokens[1:])
                watchers.start()
                time.sleep(5)  # every watcher has read its marks and waits
                cpu0, req0, t0 = _cpu_s(proc), watchers.requests, time.monotonic()
                time.sleep(params["watch_s"])
                span = time.monotonic() - t0
                watch_cpu = (_cpu_s(proc) - cpu0) / span
                requests = watchers.requests - req0
                rss_mb = proc.memory_info().rss / bl.MB
                writer = CohortClient(service.url, tokens[0], timeout=30)
                writer.post(ANCHOR, "Something new for everyone")
                posted = time.monotonic()
                deadline = posted + 15
                while len(watchers.woken) < n and time.monotonic() < deadline:
                    time.sleep(0.02)
                delays = [w - posted for w in watchers.woken]
                writer.close()
                watchers.join()
            finally:
                service.stop()
    return {
        "watchers": n,
        "idle_cpu_percent": round(100 * idle_cpu, 2),
        "watched_cpu_percent": round(100 * watch_cpu, 2),
        "requests_per_min_per_notebook": round(requests / n / (span / 60), 2),
        "service_rss_mb": round(rss_mb, 1),
        "woken": len(delays),
        "wake_p50_ms": round(1000 * statistics.median(delays), 1) if delays else None,
        "wake_max_ms": round(1000 * max(delays), 1) if delays else None,
        "errors": watchers.errors,
    }


def run(opts: Any) -> tuple[dict[str, Any], str, bool]:
    params = parameters(opts)
    payload: dict[str, Any] = {"parameters": params, "backends": {}}
    rows, ok = [], True
    for backend in params["backends"]:
        runs = []
        for i in range(1, opts.runs + 1):
            print(f"[bench] {NAME} {backend} run {i}/{opts.runs}", flush=True)
            r = one_backend(backend, params)
            print(f"  {r}", flush=True)
            r["ok"] = r["woken"] == r["watchers"] and r["errors"] == 0
            ok = ok and r["ok"]
            runs.append(r)
        med = bl.medians(runs)
        payload["backends"][backend] = {"median": med, "runs": runs}
        rows.append([backend, med["watchers"], med["requests_per_min_per_notebook"],
                     med["idle_cpu_percent"], med["watched_cpu_percent"], med["service_rss_mb"],
                     med["wake_p50_ms"], med["wake_max_ms"],
                     "ok" if all(r["ok"] for r in runs) else "FAILED"])  # fmt: skip
    text = bl.table(
        ["db", "watchers", "req/min/notebook", "CPU % idle", "CPU % watched", "RSS MB",
         "wake p50 ms", "wake max ms", "checks"],
        rows,
    )  # fmt: skip
    text += f"\n(idle notebooks: nothing changes for {params['watch_s']} s; then one post)"
    return payload, text, ok
