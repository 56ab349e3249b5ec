"""One database and one ``nbcohort serve`` per test module and leg, and a cohort of its own
per test. Starting the service costs a second or two, making a cohort milliseconds; a
cohort's members see nothing of another cohort's, so each test still starts from an empty
cohort (rules that count, first posts, empty lists), only not from an empty database.

A module opts in by importing the fixtures, which then stand in for the conftest ones
(``db_url``, ``store``, ``service``, ``cohort``, ``module_world``; ``people`` and ``tokens``
follow, made in the test's cohort)::

    from tests.helpers.shared_serve import (  # noqa: F401 - the fixtures
        serve_cohort, serve_db_url, serve_module_service, serve_module_world, serve_service,
        serve_store,
    )

Tests that change the service itself (its configuration, its in-memory limits) or count
rows across the whole database start a service of their own on the module's database, or
count within their cohort.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.services.auth import mint_token
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.store import Store
from tests.conftest import World, _add_people, fresh_database
from tests.helpers.community import SYSTEM
from tests.helpers.processes import ServiceProcess

_slugs = itertools.count(1)


def _slug() -> str:
    """A cohort slug no other test of the process uses."""
    return f"spring-26-{next(_slugs)}"


@dataclass
class ModuleService:
    url: str  # the database's
    store: Store
    service: ServiceProcess
    folder: Path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"], name="module_service")
def serve_module_service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleService]:
    """A fresh database and the service over it, shared by the module's tests."""
    folder = tmp_path_factory.mktemp("module-service")
    with fresh_database(request, request.param, folder) as url:
        store = Store.open(url)
        svc = ServiceProcess(folder, url).start()
        try:
            yield ModuleService(url, store, svc, folder)
        finally:
            svc.stop()
            store.close()


@pytest.fixture(scope="module", name="module_world")
def serve_module_world(module_service: ModuleService) -> World:
    """The conftest's ``module_world`` (one cohort for the module's read-only and refused
    tests), made in the module's database and served by its one service."""
    store = module_service.store
    with store.write() as s:
        cohort = create_cohort(s, SYSTEM, _slug(), "Practical pandas, spring 2026")
        people = _add_people(s, cohort)
        tokens = {u: mint_token(s, SYSTEM, m, "test") for u, m in people.items()}
    return World(module_service.url, store, cohort, people, tokens, module_service.service)


@pytest.fixture(name="db_url")
def serve_db_url(module_service: ModuleService) -> str:
    """The module's database (stands in for the conftest's fresh one)."""
    return module_service.url


@pytest.fixture(name="store")
def serve_store(module_service: ModuleService) -> Store:
    """The module's store, which the module's service serves."""
    return module_service.store


@pytest.fixture(name="service")
def serve_service(module_service: ModuleService) -> ServiceProcess:
    """The module's one running service."""
    return module_service.service


@pytest.fixture(name="cohort")
def serve_cohort(store: Store) -> Cohort:
    """A new cohort for this test alone; ``people`` and ``tokens`` are made in it."""
    with store.write() as s:
        return create_cohort(s, SYSTEM, _slug(), "Practical pandas, spring 2026")
