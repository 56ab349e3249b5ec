"""Shared fixtures: real stores on SQLite files and, with NBCOHORT_TEST_DB_URL, on PostgreSQL."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.schema import upgrade_db
from nbcohort.cohorts.services.auth import mint_token
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.store import Store, make_engine
from tests.helpers.community import SYSTEM
from tests.helpers.processes import ServiceProcess

pytest_plugins = ["tests.helpers.review_service"]

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


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once into a SQLite file; each test copies it. Running every migration costs
    seconds per test, a copy a few milliseconds; the file is the same either way (the
    engine is disposed first, so the write-ahead log is folded into it)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "nbcohort.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_db(engine)
    engine.dispose()
    assert not path.with_name(path.name + "-wal").exists(), "the template's log was not folded in"
    return path


@pytest.fixture(autouse=True, scope="session")
def _jupyter_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Code that falls back on the default data dir (a tick's mail step making its signing
    key) writes into a folder of the test run, never into the user's own."""
    before = os.environ.get("JUPYTER_DATA_DIR")
    os.environ["JUPYTER_DATA_DIR"] = str(tmp_path_factory.mktemp("jupyter-data"))
    yield
    if before is None:
        os.environ.pop("JUPYTER_DATA_DIR", None)
    else:
        os.environ["JUPYTER_DATA_DIR"] = before


@contextmanager
def fresh_database(request: pytest.FixtureRequest, kind: str, folder: Path) -> Iterator[str]:
    """A fresh, migrated database of ``kind``: a copy of the SQLite template in ``folder``,
    or a clone of the PostgreSQL template (dropped afterwards)."""
    if kind == "sqlite":
        path = folder / "nbcohort.sqlite"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    if not PG_URL:
        pytest.skip("PostgreSQL leg: set NBCOHORT_TEST_DB_URL to run it")
    request.getfixturevalue("_pg_template")
    name = f"nbc_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {_TEMPLATE}"))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file, or a PostgreSQL database when configured."""
    with fresh_database(request, request.param, tmp_path) as url:
        yield url


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


@pytest.fixture
def cohort(store: Store) -> Cohort:
    with store.write() as s:
        return create_cohort(s, SYSTEM, "spring-26", "Practical pandas, spring 2026")


@pytest.fixture
def people(store: Store, cohort: Cohort) -> dict[str, Member]:
    """A small cohort: two learners, a champion, a facilitator, an instructor, a sponsor."""
    with store.write() as s:
        return _add_people(s, cohort)


def _add_people(s: Session, cohort: Cohort) -> dict[str, Member]:
    rows = [
        ("ana", "Ana Souza", "learner", "red"),
        ("ben", "Ben Okafor", "learner", "blue"),
        ("chi", "Chi Nguyen", "champion", "red"),
        ("fay", "Fay Lindqvist", "facilitator", ""),
        ("ivo", "Ivo Petrov", "instructor", ""),
        ("sam", "Sam Reyes", "sponsor", ""),
    ]
    out = {}
    for username, name, role, team in rows:
        out[username] = add_member(
            s, SYSTEM, cohort, name=name, email=f"{username}@example.org",
            role=role, team=team, username=username,
        )  # fmt: skip
    return out


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


@dataclass
class World:
    """One database, its cohort, members, tokens and service, shared by a module's tests
    that only read or are refused (starting ``nbcohort serve`` costs seconds per test)."""

    url: str
    store: Store
    cohort: Cohort
    people: dict[str, Member]
    tokens: dict[str, str]
    service: ServiceProcess


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """``db_url`` + ``cohort`` + ``people`` + ``tokens`` + ``service``, once per module."""
    folder = tmp_path_factory.mktemp("module-world")
    with fresh_database(request, request.param, folder) as url:
        store = Store.open(url)
        with store.write() as s:
            cohort = create_cohort(s, SYSTEM, "spring-26", "Practical pandas, spring 2026")
            people = _add_people(s, cohort)
            tokens = {u: mint_token(s, SYSTEM, m, "test") for u, m in people.items()}
        svc = ServiceProcess(folder, url).start()
        try:
            yield World(url, store, cohort, people, tokens, svc)
        finally:
            svc.stop()
            store.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test on the PostgreSQL leg ``postgres``, so ``-m "not postgres"`` skips it."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        legs = (
            tuple(
                callspec.params.get(k)
                for k in ("db_url", "shared_service", "module_world", "module_service")
            )
            if callspec
            else ()
        )
        # shared_service: tests/helpers/exchange_service.py; module_service: shared_serve.py
        if "postgresql" in legs:
            item.add_marker(pytest.mark.postgres)
