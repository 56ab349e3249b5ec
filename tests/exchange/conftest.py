"""Every test of the exchange also checks its boundary: a row it changes or adds is changed by
the services layer, never by exchange code itself (``boundaries.watch_orm_writes``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.exchange.boundaries import watch_orm_writes


@pytest.fixture(scope="package")  # installed while tests/exchange run, not beyond
def exchange_orm_writes() -> Iterator[list[str]]:
    found: list[str] = []
    with watch_orm_writes(found):
        yield found


@pytest.fixture(autouse=True)
def _the_exchange_writes_no_row_itself(exchange_orm_writes: list[str]) -> Iterator[None]:
    exchange_orm_writes.clear()
    yield
    assert not exchange_orm_writes, (
        "exchange code wrote rows itself; call a function of cohorts/services/review_rounds.py: "
        + "; ".join(exchange_orm_writes[:5])
    )
