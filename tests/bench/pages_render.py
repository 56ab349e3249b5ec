"""Benchmark: each Voila page's first render for a cohort of 1,000 members and 500,000
activity events, measured in the browser (Debian's Chromium through Playwright).

The cohort is the metrics benchmark's (``metrics_load.seed``: twelve weeks of reads,
reactions, posts, artifacts, applied practices, a review round), on SQLite. ``nbcohort
serve`` twice: computing the metrics on every request (``cache_seconds=0``: each page pays
the full computation, as the first viewer after a minute does), then with the default cache
(60 s: the viewers after them), and JupyterLab with a learner's token, as the demo runs it.
Each run opens, in a fresh browser page (so a fresh kernel):

- a baseline notebook whose one cell shows one line: the kernel's start and Voila's own
  load (reported as "kernel start");
- the cohort activity page, until both charts have drawn their bars;
- the leader one-pager, until its outcome table and first chart are drawn;
- the facilitator dashboard (JupyterLab with an instructor's token), until its "Members at
  risk" table is drawn;
- the community-of-practice page, after the cohort has graduated (JupyterLab with an
  alumna's token), until its sections are drawn (all at once: "Cohorts in this community"
  is the first).

Times are ``performance.now()`` in the page when the condition first holds (from the start
of navigation). "After the kernel started" is the page's time minus the median baseline.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchlib as bl
import metrics_load
import nbformat
import requests

NAME = "pages_render"
TARGET_S = 4.0
CHROMIUM = os.environ.get("NBCOHORT_CHROMIUM") or shutil.which("chromium") or ""
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
DONE = {
    "baseline": "() => document.querySelector('.nbc-bench-ready') !== null",
    "cohort": "() => [...document.querySelectorAll('.nbc-chart')].filter("
    "c => c.querySelectorAll('svg .mark-rect path').length > 0).length >= 2",
    "leader": "() => document.querySelector('table.nbc-leader') !== null && "
    "document.querySelectorAll('.nbc-chart svg .mark-rect path').length > 0",
    "dashboard": "() => [...document.querySelectorAll('h2, h3')].some("
    "h => h.textContent.includes('Members at risk'))",
    "community": "() => [...document.querySelectorAll('h2, h3')].some("
    "h => h.textContent.includes('Cohorts in this community'))",
}
# Who opens which pages: the learner the cohort and leader pages, an instructor the
# dashboard, and (after graduation) an alumna the community page.
VIEWERS = {"learner": ("cohort", "leader"), "instructor": ("dashboard",), "alumni": ("community",)}
PAGES = [p for pages in VIEWERS.values() for p in pages]


def _home(folder: Path) -> Path:
    from nbcohort.cohorts.pages import copy_pages

    copy_pages(folder / "community")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from IPython.display import HTML\nHTML('<div class=\"nbc-bench-ready\">ready</div>')"
        )
    ]
    nbformat.write(nb, folder / "community" / "baseline.ipynb")
    return folder


def _lab(tmp: Path, home: Path, service_url: str, token: str) -> tuple[subprocess.Popen, str]:
    port, lab_token = bl.free_port(), "bench"
    env = bl.isolated_env(
        tmp, NBCOHORT_URL=service_url, NBCOHORT_TOKEN=token,
        JUPYTER_CONFIG_PATH=str(bl.REPO),
    )  # fmt: skip
    args = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={home}",
            f"--IdentityProvider.token={lab_token}"]  # fmt: skip
    if os.geteuid() == 0:
        args.append("--allow-root")
    log = (tmp / "lab.log").open("wb")
    proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/api/status?token={lab_token}", timeout=2).ok:
                return proc, f"{url}/voila/render/community/{{}}.ipynb?token={lab_token}"
        except requests.RequestException:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("JupyterLab did not start")


def _token(url: str, role: str) -> str:
    """A token of the first active member with ``role`` (learners become alumni on
    graduation: the same member's token then opens the community page)."""
    from sqlalchemy import select

    from nbcohort.cohorts.models import Member
    from nbcohort.cohorts.services.auth import Actor, mint_token
    from nbcohort.cohorts.store import Store

    store = Store.open(url)
    with store.write() as s:
        member = s.scalars(
            select(Member).where(Member.role == role, Member.active.is_(True)).order_by(Member.id)
        ).first()
        assert member is not None, f"the seeded cohort has no {role}"
        token = mint_token(s, Actor.system(), member, "bench")
    store.close()
    return token


def _graduate(url: str) -> None:
    """Give the seeded cohort a community in its cohort file and graduate it, as
    ``nbcohort cohort apply`` and ``nbcohort cohort graduate`` do."""
    import hashlib

    from sqlalchemy import select

    from nbcohort.cohorts.cohort_checks import check_cohort_file
    from nbcohort.cohorts.models import Cohort
    from nbcohort.cohorts.services.auth import Actor
    from nbcohort.cohorts.services.cohort_apply import apply_cohort_file
    from nbcohort.cohorts.services.graduation import graduate
    from nbcohort.cohorts.store import Store

    store = Store.open(url)
    try:
        with store.read() as s:
            c = s.scalars(select(Cohort).where(Cohort.slug == metrics_load.SLUG)).one()
            starts = c.starts_on
        text = (
            f'[cohort]\nslug = "{metrics_load.SLUG}"\ntitle = "Metrics benchmark"\n'
            f'starts_on = {starts.isoformat()}\ntimezone = "Europe/Berlin"\n\n'
            '[community]\nname = "bench-practice"\ntitle = "Bench practitioners"\n'
        )
        spec, problems = check_cohort_file(text, "bench.toml")
        assert spec is not None, problems
        with store.write() as s:
            cohort, _ = apply_cohort_file(
                s, Actor.system(), spec, hashlib.sha256(text.encode()).hexdigest()
            )
            graduate(s, Actor.system(), cohort)
    finally:
        store.close()


def _measure(tmp: Path, url: str, home: Path, token: str, pages: tuple[str, ...], opts: Any,
             modes: dict[str, list[dict[str, float]]]) -> None:  # fmt: skip
    """Render the baseline and ``pages`` ``opts.runs`` times with the service computing the
    metrics on every request, then with its default cache; add each run to ``modes``."""
    from playwright.sync_api import sync_playwright
    from service_load import Service

    for cache in ("0", "60"):
        svc = Service(tmp, url)
        svc.args.append(f"--MetricsSettings.cache_seconds={cache}")
        svc.start()
        lab, address = _lab(tmp, home, svc.base, token)
        runs = modes.setdefault(f"cache_{cache}", [])
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                _render(browser, address, "baseline")  # the server's first load
                for n in range(opts.runs):
                    got = {p: _render(browser, address, p) for p in ("baseline", *pages)}
                    print(f"[bench] {NAME} cache {cache} {pages} run {n + 1}: {got}", flush=True)
                    if len(runs) <= n:
                        runs.append({})
                    baseline = runs[n].get("baseline")
                    runs[n].update(got)
                    if baseline is not None:  # one baseline per run: the median of the labs'
                        runs[n]["baseline"] = statistics.median([baseline, got["baseline"]])
                browser.close()
        finally:
            lab.terminate()
            lab.wait(20)
            svc.stop()


def _render(browser: Any, address: str, page_name: str) -> float:
    """Seconds from navigation to the page's content drawn, in a fresh page (and kernel)."""
    page = browser.new_page(viewport={"width": 1280, "height": 4000})
    try:
        page.goto(address.format(page_name), timeout=120_000)
        handle = page.wait_for_function(
            f"() => ({DONE[page_name]})() ? performance.now() : false", timeout=180_000
        )
        return round(float(handle.json_value()) / 1000, 3)
    finally:
        page.close()


def run(opts: Any) -> tuple[dict[str, Any], str, bool]:
    if not CHROMIUM:
        raise RuntimeError("pages_render needs Debian's chromium")
    members, events = (200, 50_000) if opts.quick else (1000, 500_000)
    modes: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="nbc-pages-") as tmp_name:
        tmp = Path(tmp_name)
        with bl.fresh_database("sqlite", tmp) as url:
            seeded = metrics_load.seed(url, members, events)
            print(f"[bench] {NAME}: seeded {seeded}", flush=True)
            home = _home(tmp / "home")
            learner = _token(url, "learner")
            for role in ("learner", "instructor"):
                _measure(tmp, url, home, learner if role == "learner" else _token(url, role),
                         VIEWERS[role], opts, modes)  # fmt: skip
            _graduate(url)
            _measure(tmp, url, home, learner, VIEWERS["alumni"], opts, modes)
    runs = modes["cache_0"]
    med = {p: statistics.median(r[p] for r in runs) for p in DONE}
    after = {p: round(med[p] - med["baseline"], 3) for p in PAGES}
    cached = {p: statistics.median(r[p] for r in modes["cache_60"]) for p in DONE}
    cached_after = {p: round(cached[p] - cached["baseline"], 3) for p in PAGES}
    met = all(v < TARGET_S for v in after.values())
    verdict = {p: "yes" if after.get(p, 0) < TARGET_S else "no" for p in DONE}
    rows = [[p, med[p], after.get(p, "-"), cached[p], cached_after.get(p, "-"), verdict[p]]
            for p in DONE]  # fmt: skip
    text = bl.table(
        ["page", "drawn s", "after kernel s", "cached: drawn s", "cached: after s", "met"], rows
    )
    text += (
        f"\n(kernel start: the baseline; target < {TARGET_S} s after it; "
        f"{members} members, {events} events)"
    )
    payload = {
        "parameters": {
            "members": members,
            "events": events,
            "runs": opts.runs,
            "backend": "sqlite",
            "metrics_cache_seconds": 0,
        },
        "seeded": seeded,
        "target_s_after_kernel_start": TARGET_S,
        "runs_detail": modes,
        "median_s": med,
        "after_kernel_start_s": after,
        "cached_median_s": cached,
        "cached_after_kernel_start_s": cached_after,
    }
    return payload, text, met
