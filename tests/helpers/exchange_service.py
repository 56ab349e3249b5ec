"""One ``nbcohort serve`` per test module and database (SQLite file, PostgreSQL clone),
shared by the exchange's tests: starting the service costs seconds, so each test makes its
own cohort (a course of its own) in it instead of a service of its own."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from nbcohort.cohorts.schema import upgrade_db
from nbcohort.cohorts.store import Store, make_engine
from tests.conftest import _TEMPLATE, PG_URL, _pg_admin_url
from tests.helpers.processes import ServiceProcess

__all__ = ["LIMIT", "SharedService", "new_slug", "shared_service"]

LIMIT = 256 * 1024  # the exchange upload limit the shared service is configured with
_slugs = itertools.count(1)


def new_slug(prefix: str = "course") -> str:
    """A cohort slug (the exchange's course id) no other test in the process uses."""
    return f"{prefix}{next(_slugs)}"


@dataclass
class SharedService:
    url: str  # the database's
    store: Store
    service: ServiceProcess
    data: Path  # the service's data dir (its exchange folder is data/exchange)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedService]:
    tmp = tmp_path_factory.mktemp("exchange-service")
    admin, name = None, ""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'nbcohort.sqlite'}"
        engine = make_engine(url)
        upgrade_db(engine)
        engine.dispose()
    else:
        if not PG_URL:
            pytest.skip("PostgreSQL leg: set NBCOHORT_TEST_DB_URL to run it")
        request.getfixturevalue("_pg_template")
        name = f"nbc_{uuid.uuid4().hex[:12]}"
        admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {_TEMPLATE}"))
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    svc = ServiceProcess(tmp, url)
    conf = Path(svc.env["JUPYTER_CONFIG_PATH"]) / "jupyter_config.py"
    conf.write_text(f"c.ExchangeSettings.max_upload_bytes = {LIMIT}\n")
    store = Store.open(url)
    svc.start()
    try:
        yield SharedService(url, store, svc, tmp / "data")
    finally:
        svc.stop()
        store.close()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            admin.dispose()
