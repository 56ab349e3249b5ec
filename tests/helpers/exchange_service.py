"""One ``nbcohort serve`` per test module and database (SQLite file, PostgreSQL clone),
shared by the exchange's tests: starting the service costs seconds, so each test makes its
own cohort (a course of its own) in it instead of a service of its own.

The SQLite leg keeps the archives in a folder (``ExchangeSettings.store = 'folder'``), the
PostgreSQL leg in the database (``'database'``, as replicas with no shared volume do): every
exchange test covers both stores without running twice more."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update

from nbcohort.cohorts.models import ExchangeBlobChunk, ExchangeFile
from nbcohort.cohorts.store import Store
from tests.conftest import fresh_database
from tests.helpers.processes import ServiceProcess

__all__ = ["LIMIT", "MAX_SUBMISSIONS", "QUOTA", "SharedService", "new_slug", "shared_service"]

LIMIT = 256 * 1024  # the exchange upload limit the shared service is configured with
MAX_SUBMISSIONS = 5  # ... the submissions it keeps of one assignment from one learner
QUOTA = 4 * LIMIT  # ... and the bytes of submissions it keeps for one learner
_slugs = itertools.count(1)


def new_slug(prefix: str = "course") -> str:
    """A cohort slug (the exchange's course id) no other test in the process uses."""
    return f"{prefix}{next(_slugs)}"


STORES = {"sqlite": "folder", "postgresql": "database"}  # ExchangeSettings.store per leg


@dataclass
class SharedService:
    url: str  # the database's
    store: Store
    service: ServiceProcess
    data: Path  # the service's data dir (its exchange folder is data/exchange)
    blobs: str = "folder"  # where it keeps archives (ExchangeSettings.store)

    def blob_names(self) -> set[str]:
        """The archives the service keeps, wherever it keeps them."""
        if self.blobs == "database":
            with self.store.read() as s:
                return set(s.scalars(select(ExchangeBlobChunk.blob).distinct()))
        return {p.name for p in (self.data / "exchange" / "blobs").glob("*")}

    def overwrite_blob(self, blob: str, data: bytes, *, with_its_row: bool = False) -> None:
        """Change a kept archive behind the service's back (as a disk or a database could);
        ``with_its_row``: its size and SHA-256 too, as someone with the database could."""
        with self.store.write() as s:
            if with_its_row:
                s.execute(update(ExchangeFile).where(ExchangeFile.blob == blob).values(
                    size=len(data), sha256=hashlib.sha256(data).hexdigest()))  # fmt: skip
            if self.blobs == "database":
                s.execute(delete(ExchangeBlobChunk).where(ExchangeBlobChunk.blob == blob))
                s.execute(insert(ExchangeBlobChunk), {"blob": blob, "seq": 0, "data": data})
                return
        (self.data / "exchange" / "blobs" / blob).write_bytes(data)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedService]:
    tmp = tmp_path_factory.mktemp("exchange-service")
    with fresh_database(request, request.param, tmp) as url:
        svc = ServiceProcess(tmp, url)
        conf = Path(svc.env["JUPYTER_CONFIG_PATH"]) / "jupyter_config.py"
        conf.write_text(
            f"c.ExchangeSettings.max_upload_bytes = {LIMIT}\n"
            f"c.ExchangeSettings.max_submissions = {MAX_SUBMISSIONS}\n"
            f"c.ExchangeSettings.learner_quota_bytes = {QUOTA}\n"
            f"c.ExchangeSettings.store = {STORES[request.param]!r}\n"
        )
        store = Store.open(url)
        svc.start()
        try:
            yield SharedService(url, store, svc, tmp / "data", STORES[request.param])
        finally:
            svc.stop()
            store.close()
