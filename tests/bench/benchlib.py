"""What the benchmarks share: machine facts, fresh databases, child processes, RSS, statistics.

Plain module (tests/bench is not a package): run.py puts this folder on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import platform
import resource
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo: tests.helpers

# Processes as a user starts them, shared with the tests (service_load, widget_render and
# roster_import call them as bl.free_port() etc.).
from tests.helpers.processes import free_port as free_port
from tests.helpers.processes import isolated_env as isolated_env
from tests.helpers.processes import wait_until_serving as wait_until_serving

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
RESULTS = HERE / "results"
PG_URL = os.environ.get("NBCOHORT_TEST_DB_URL", "")
MB = 1024 * 1024


# -- machine ------------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return head + ("+dirty" if dirty else "")


def source_digest() -> str:
    """A digest of the code under test (cohorts/), since the work tree may be uncommitted."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted((REPO / "cohorts").rglob("*.py")):
        h.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def pg_server_version(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar())
    finally:
        engine.dispose()


def machine_info(*, postgres: bool) -> dict[str, Any]:
    import sqlalchemy

    vm = psutil.virtual_memory()
    info: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_count_logical": os.cpu_count(),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "ram_total_mb": round(vm.total / MB),
        "ram_available_mb": round(vm.available / MB),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "sqlite_version": sqlite3.sqlite_version,
        "sqlalchemy_version": sqlalchemy.__version__,
        "git": git_revision(),
        "cohorts_source_sha256_16": source_digest(),
        "postgres_server_version": None,
    }
    if postgres and PG_URL:
        try:
            info["postgres_server_version"] = pg_server_version(PG_URL)
        except Exception as exc:  # reported, not fatal: the PG leg will fail on its own
            info["postgres_server_version"] = f"unavailable: {exc}"
    return info


# -- databases ----------------------------------------------------------------------------------
def backends() -> list[str]:
    """SQLite always; PostgreSQL when NBCOHORT_TEST_DB_URL is set."""
    return ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


def _pg_admin_url() -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_URL).set(database="postgres").render_as_string(hide_password=False)


@contextmanager
def fresh_database(backend: str, tmp: Path) -> Iterator[str]:
    """An empty database's URL: a SQLite file in ``tmp``, or a new ``nbc_bench_<random>`` PG
    database made from NBCOHORT_TEST_DB_URL and dropped afterwards. Not migrated."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:8]}.sqlite'}"
        return
    with _pg_database("") as url:
        yield url


@contextmanager
def clone_database(backend: str, template_url: str, tmp: Path) -> Iterator[str]:
    """A fresh copy of a prepared database: SQLite's backup API, or PostgreSQL's
    ``CREATE DATABASE .. TEMPLATE`` (nothing may be connected to the template)."""
    from sqlalchemy.engine import make_url

    if backend == "sqlite":
        path = tmp / f"clone-{uuid.uuid4().hex[:8]}.sqlite"
        src = sqlite3.connect(make_url(template_url).database or "")
        dst = sqlite3.connect(path)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        yield f"sqlite:///{path}"
        return
    with _pg_database(f" TEMPLATE {make_url(template_url).database}") as url:
        yield url


@contextmanager
def _pg_database(create_options: str) -> Iterator[str]:
    """A new ``nbc_bench_<random>`` PostgreSQL database, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"nbc_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}{create_options}"))
        try:
            yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        admin.dispose()


ARTIFACT_COLUMNS = [
    "cohort_id", "author_id", "title", "description", "tags", "license",
    "filename", "content", "sha256", "size", "source", "created_at",
]  # fmt: skip


def bulk_insert(conn: Any, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """INSERT many rows at once: COPY on PostgreSQL, executemany on SQLite (seeding only:
    the service's own writes are what the benchmarks measure)."""
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def db_time(dialect: str, when: dt.datetime) -> Any:
    """A timestamp as the raw driver stores it (SQLAlchemy's SQLite text form)."""
    return when.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else when


def runs_on_clones(
    name: str,
    backend: str,
    template: str,
    tmp: Path,
    runs: int,
    measure: Any,
) -> list[dict[str, Any]]:
    """``runs`` measurements, each on a fresh clone of ``template``: ``measure(url, run)`` fills
    the run's dict (it must set ``ok``); the run number and load average are recorded first."""
    out = []
    for i in range(1, runs + 1):
        print(f"[bench] {name} {backend} run {i}/{runs}", flush=True)
        with clone_database(backend, template, tmp) as url:
            run: dict[str, Any] = {"run": i, "load_average_1m": os.getloadavg()[0]}
            measure(url, run)
        out.append(run)
    return out  # fmt: skip


def record_backend(payload: dict[str, Any], backend: str, runs: list[dict[str, Any]]) -> dict:
    """Store one backend's runs and their medians in ``payload``; returns the medians."""
    med = medians(runs)
    payload["backends"][backend] = {
        "median": med,
        "checks_ok_all_runs": all(r["ok"] for r in runs),
        "runs": runs,
    }
    return med


def redact(url: str) -> str:
    """A database URL without its password, for the JSON results."""
    if url.startswith("sqlite"):
        return url
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# -- child processes ----------------------------------------------------------------------------
def cli(*args: str) -> list[str]:
    """The nbcohort command as a user runs it (without relying on the console script's PATH)."""
    return [sys.executable, "-m", "nbcohort.cohorts.cli", *args]


class RssSampler:
    """Samples a process's RSS (with its children) every ``interval`` seconds on a thread."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.samples = 0
        self.cpu: list[tuple[float, float]] = []
        self._peak = 0
        self._window_peak = 0
        self.pss_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _tree(self) -> list[psutil.Process]:
        try:
            return [self.proc, *self.proc.children(recursive=True)]
        except psutil.Error:
            return []

    def _rss(self) -> int:
        """RSS of the process and its children (shared pages of forked workers count in each:
        an upper bound; pss_peak_mb tells the real sum)."""
        total = 0
        for proc in self._tree():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def _pss(self) -> int:
        total = 0
        for proc in self._tree():
            with contextlib.suppress(psutil.Error, AttributeError):
                total += proc.memory_full_info().pss
        return total

    def _cpu(self) -> float:
        """CPU seconds of the process and its live children (all workers of a service)."""
        total = 0.0
        for proc in self._tree():
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                total += t.user + t.system
        if self.cpu and total < self.cpu[-1][1]:  # a worker died: never count backwards
            return self.cpu[-1][1]
        return total

    def cpu_between(self, start: float, end: float) -> float | None:
        """CPU seconds the process used between two ``time.time()`` instants (interpolated
        from the samples), as a percentage of one core."""
        pts = list(self.cpu)
        if len(pts) < 2 or end <= start:
            return None

        def at(t: float) -> float:
            for (t0, c0), (t1, c1) in itertools.pairwise(pts):
                if t0 <= t <= t1:
                    return c0 + (c1 - c0) * (t - t0) / max(t1 - t0, 1e-9)
            return pts[0][1] if t < pts[0][0] else pts[-1][1]

        return round(100 * (at(end) - at(start)) / (end - start), 1)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = self._rss()
            self.cpu.append((time.time(), self._cpu()))
            self.samples += 1
            if self.samples % 5 == 1:  # PSS reads smaps: every 0.5 s is enough
                self.pss_peak = max(self.pss_peak, self._pss())
            self._peak = max(self._peak, rss)
            self._window_peak = max(self._window_peak, rss)
            self._stop.wait(self.interval)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def window(self) -> float:
        """Peak RSS (MB) since the last call, then start a new window."""
        peak, self._window_peak = self._window_peak, self._rss()
        return round(max(peak, self._window_peak) / MB, 1)

    def stop(self) -> float:
        """Stop sampling; the peak RSS in MB over the whole life of the sampler."""
        self._stop.set()
        self._thread.join(5)
        return round(self._peak / MB, 1)


def run_measured(
    cmd: list[str], env: dict[str, str], *, cwd: Path | None = None, timeout: float = 600
) -> dict[str, Any]:
    """Run a command; wall time, exact peak RSS (wait4's ru_maxrss) and a psutil-sampled peak."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sampler = RssSampler(proc.pid, interval=0.02).start()
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [
        threading.Thread(target=lambda s=s, b=b: b.append(s.read()), daemon=True)
        for s, b in ((proc.stdout, out), (proc.stderr, err))
    ]
    for r in readers:
        r.start()
    deadline = time.monotonic() + timeout
    while True:  # wait4 reaps the child itself and tells its own peak RSS
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
        time.sleep(0.005)
    wall = time.perf_counter() - start
    sampled = sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for r in readers:
        r.join(10)
    return {
        "returncode": proc.returncode,
        "wall_s": round(wall, 3),
        "peak_rss_mb": round(usage.ru_maxrss * 1024 / MB, 1),  # Linux: kilobytes
        "peak_rss_mb_sampled": sampled,
        "cpu_user_s": round(usage.ru_utime, 3),
        "cpu_sys_s": round(usage.ru_stime, 3),
        "stdout": b"".join(out).decode("utf-8", "replace"),
        "stderr": b"".join(err).decode("utf-8", "replace"),
    }


def filesystem_of(path: Path) -> str:
    """The filesystem type a path lives on (tmpfs and ext4 fsync very differently)."""
    best, kind = "", "unknown"
    for part in psutil.disk_partitions(all=True):
        if str(path).startswith(part.mountpoint) and len(part.mountpoint) > len(best):
            best, kind = part.mountpoint, part.fstype
    return kind


def self_peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB, 1)


# -- statistics ---------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation, as numpy's default does."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of every numeric leaf across runs (nested dicts kept; others from the first run)."""
    if not runs:
        return {}
    out: dict[str, Any] = {}
    for key, first in runs[0].items():
        values = [r.get(key) for r in runs]
        if isinstance(first, dict):
            out[key] = medians([v for v in values if isinstance(v, dict)])
        elif isinstance(first, bool) or not isinstance(first, int | float):
            continue
        else:
            nums = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
            if nums:
                out[key] = round(statistics.median(nums), 3)
    return out


def write_result(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# -- synthetic data -----------------------------------------------------------------------------
FIRST_NAMES = (
    "Ana",
    "Ben",
    "Chiara",
    "Dmitri",
    "Emeka",
    "Fatima",
    "Gabriel",
    "Hana",
    "Inès",
    "Jonas",
    "Kavya",
    "Liam",
    "Mei",
    "Nadia",
    "Omar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sami",
    "Tomás",
    "Zoë",
    "Łukasz",
    "Søren",
    "Ngọc",
    "Şule",
    "José",
    "محمد",
    "فاطمة",
    "יעל",
    "דוד",
    "Ελένη",
    "Дмитрий",
    "美咲",
    "प्रिया",
)
LAST_NAMES = (
    "Souza",
    "Okafor",
    "Rossi",
    "Ivanov",
    "Eze",
    "Haddad",
    "Silva",
    "Sato",
    "García",
    "Berg",
    "Iyer",
    "Walsh",
    "Chen",
    "Karimi",
    "Nair",
    "Lefèvre",
    "Díaz",
    "Novák",
    "Müller",
    "Nguyễn",
    "O'Brien",
    "van der Berg",
    "Kowalski, Jr.",
    "Øverby",
    "العلي",
    "الحسيني",
    "כהן",
    "לוי",
    "Παπαδόπουλος",
    "Смирнов",
    "佐藤",
    "शर्मा",
)
TEAMS = ("Finance", "Operations", "Marketing", "Research")
ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Africa/Lagos",
    "UTC",
    "Asia/Tokyo",
    "America/Sao_Paulo",
    "Asia/Jerusalem",
)


def synthetic_roster_csv(n: int, *, seed: int = 7, with_sponsors: bool = True) -> str:
    """A roster of ``n`` members with unique emails, unicode and RTL names (some decomposed,
    some holding commas or quotes), four teams and every role."""
    import csv
    import io
    import random
    import unicodedata

    rng = random.Random(seed)
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["name", "email", "team", "role", "timezone"])
    champions, alumni, sponsors = max(1, n // 50), n // 200, (n // 1000 if with_sponsors else 0)
    for i in range(n):
        if i == 0:
            role = "instructor"
        elif i < 1 + max(2, n // 2500):
            role = "facilitator"
        elif i < 1 + max(2, n // 2500) + sponsors:
            role = "sponsor"
        else:
            role = rng.choices(
                ["champion", "alumni", "learner"], [champions, alumni, n - champions - alumni]
            )[0]
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = f"{first} {last}"
        if i % 97 == 0:
            name = unicodedata.normalize("NFD", name)  # the import stores NFC
        team = "" if role in ("instructor", "facilitator", "sponsor") else TEAMS[i % len(TEAMS)]
        out.writerow(
            [
                name,
                f"member{i:05d}.{rng.randrange(10**6):06d}@example.org",
                team,
                role,
                rng.choice(ZONES),
            ]
        )
    return buf.getvalue()
