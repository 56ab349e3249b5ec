"""Shared fixtures: real stores on SQLite files and, with NBCOHORT_TEST_DB_URL, on PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.services.auth import Actor, mint_token
from nbcohort.cohorts.services.cohorts import create_cohort
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.store import Store, make_engine, sqlite_path, upgrade_db

REPO = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("NBCOHORT_TEST_DB_URL", "")
_TEMPLATE = f"nbcohort_test_template_{os.getpid()}"


def _pg_admin_url() -> str:
    return make_url(PG_URL).set(database="postgres").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _pg_template() -> Iterator[str]:
    """Migrate once into a template database; each test clones it (fast, isolated)."""
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {_TEMPLATE}"))
        conn.execute(text(f"CREATE DATABASE {_TEMPLATE}"))
    template_url = make_url(PG_URL).set(database=_TEMPLATE).render_as_string(hide_password=False)
    engine = make_engine(template_url)
    upgrade_db(engine)
    engine.dispose()
    yield template_url
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {_TEMPLATE} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file, or a PostgreSQL database when configured."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'nbcohort.sqlite'}"
        engine = make_engine(url)
        upgrade_db(engine)
        engine.dispose()
        yield url
        return
    if not PG_URL:
        pytest.skip("PostgreSQL leg: set NBCOHORT_TEST_DB_URL to run it")
    request.getfixturevalue("_pg_template")
    name = f"nbc_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {_TEMPLATE}"))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def admin(db_url: str) -> Iterator[Engine]:
    """The PostgreSQL server's admin database (autocommit), for what only a server has:
    connections to close, LISTEN/NOTIFY, databases to lock out. Skips on SQLite."""
    if not db_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL server's own behaviour")
    engine = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A store that is always SQLite, for tests of SQLite's own behaviour."""
    s = Store.open(f"sqlite:///{tmp_path / 'nbcohort.sqlite'}", upgrade=True)
    yield s
    s.close()


SYSTEM = Actor.system()


@pytest.fixture
def cohort(store: Store) -> Cohort:
    with store.write() as s:
        return create_cohort(s, SYSTEM, "spring-26", "Practical pandas, spring 2026")


@pytest.fixture
def people(store: Store, cohort: Cohort) -> dict[str, Member]:
    """A small cohort: two learners, a champion, a facilitator, an instructor, a sponsor."""
    rows = [
        ("ana", "Ana Souza", "learner", "red"),
        ("ben", "Ben Okafor", "learner", "blue"),
        ("chi", "Chi Nguyen", "champion", "red"),
        ("fay", "Fay Lindqvist", "facilitator", ""),
        ("ivo", "Ivo Petrov", "instructor", ""),
        ("sam", "Sam Reyes", "sponsor", ""),
    ]
    out = {}
    with store.write() as s:
        for username, name, role, team in rows:
            out[username] = add_member(
                s, SYSTEM, cohort, name=name, email=f"{username}@example.org",
                role=role, team=team, username=username,
            )  # fmt: skip
    return out


def actor(member: Member) -> Actor:
    return Actor.of(member)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment for a child process: no user or repo Jupyter config leaks in."""
    conf = tmp_path / "jupyter-config"
    conf.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "NBCOHORT_"))}
    env.update(JUPYTER_CONFIG_DIR=str(conf), JUPYTER_CONFIG_PATH=str(conf),
               JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"))  # fmt: skip
    env.update(extra)
    return env


class ServiceProcess:
    """``nbcohort serve`` started as a user starts it, in its own process."""

    def __init__(self, tmp_path: Path, db_url: str, port: int | None = None) -> None:
        self.db_url, self.port = db_url, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"service-{self.port}.log"
        self.env = isolated_env(tmp_path)
        self.args = [sys.executable, "-m", "nbcohort.cohorts.cli", "serve",
                     f"--db-url={db_url}", f"--port={self.port}",
                     f"--data-dir={tmp_path / 'data'}"]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> ServiceProcess:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=out, stderr=out)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"service exited: {self.log.read_text()}")
            try:
                if requests.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"service did not start: {self.log.read_text()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(20)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


@pytest.fixture
def service(tmp_path: Path, db_url: str, store: Store) -> Iterator[ServiceProcess]:
    """The community service over the test database (``store`` sees the same data)."""
    svc = ServiceProcess(tmp_path, db_url).start()
    yield svc
    svc.stop()


@pytest.fixture
def tokens(store: Store, people: dict[str, Member]) -> dict[str, str]:
    """A local API token per test member, minted as ``nbcohort token`` does."""
    out = {}
    with store.write() as s:
        for username, member in people.items():
            out[username] = mint_token(s, SYSTEM, s.merge(member), "test")
    return out


def race(store: Store, first: Callable[[Session], Any], second: Callable[[Session], Any]):
    """Run ``first`` and hold its transaction open while ``second`` starts; return errors."""
    other_store = Store.open(store.url)
    inside, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run_first() -> None:
        with store.write() as s:
            first(s)
            s.flush()
            inside.set()
            release.wait(10)

    def run_second() -> None:
        try:
            with other_store.write() as s:
                second(s)
        except BaseException as exc:
            errors.append(exc)

    t1 = threading.Thread(target=run_first)
    t1.start()
    assert inside.wait(10)
    t2 = threading.Thread(target=run_second)
    t2.start()
    time.sleep(0.5)  # the second writer is now waiting on the first
    release.set()
    t1.join(10)
    t2.join(20)
    other_store.close()
    return errors


@contextmanager
def posts_held(store: Store) -> Iterator[None]:
    """Hold new posts back from outside nbcohort, as a long transaction by another program
    would: SQLite's write lock, or on PostgreSQL a lock on the post table (reads go on)."""
    path = sqlite_path(store.url)
    if path is not None:
        import sqlite3

        raw = sqlite3.connect(path, isolation_level=None)
        raw.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            raw.execute("ROLLBACK")
            raw.close()
        return
    with store.engine.connect() as conn, conn.begin() as tx:
        conn.exec_driver_sql("LOCK TABLE post IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            tx.rollback()
