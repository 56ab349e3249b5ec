"""The exchange changes review rounds only through the services layer and reaches no other
module's private names: every module of exchange/ read with ``ast``, and writes planted where
the exchange would make them caught both by that reading and, at run time, by the watch every
exchange test runs under (``conftest.py``)."""

from __future__ import annotations

import textwrap

import pytest
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Allocation, ReviewRound
from tests.exchange.boundaries import EXCHANGE, reach_violations, watch_orm_writes

PLANTED = {
    "a status set on a row the session gave": """
        def withdraw(ctx, ids):
            with ctx.store.write() as s:
                for i in ids:
                    s.get_one(Allocation, i).status = "withdrawn"
        """,
    "a row from a services read, changed": """
        def close(ctx, cohort):
            with ctx.store.write() as s:
                rnd = find_round(s, ctx.actor, cohort, "p")
                rnd.status, rnd.closed_at = "closed", None
        """,
    "rows of a query, changed in a loop": """
        def late(session: Session):
            rows = session.scalars(select(Allocation)).all()
            for alloc, _other in zip(rows, rows):
                alloc.due_at += 1
        """,
    "a parameter typed as a model": """
        def note(rnd: ReviewRound) -> None:
            rnd.settings["excluded"] = {}
        """,
    "setattr on a row": """
        def mark(s, alloc_id):
            setattr(s.get(Allocation, alloc_id), "status", "x")
        """,
    "a row added": """
        def add(ctx):
            with ctx.store.write() as s:
                s.add(Allocation(round_id=1))
        """,
    "a row deleted": """
        def drop(s, row):
            s.delete(row)
        """,
    "a Core UPDATE": """
        from sqlalchemy import select, update
        """,
    "a table reached": """
        def f(s):
            s.execute(Allocation.__table__.update())
        """,
    "another module's private helper": """
        from nbcohort.exchange.round_open import _calibration
        """,
    "a private name through its module": """
        from nbcohort.exchange import packets
        walk = packets._walk
        """,
}

HARMLESS = """
    from nbcohort.exchange import packets
    from sqlalchemy.orm import Session

    def open_round(ctx, api, cohort):
        report = OpenReport("p")
        with ctx.store.read() as s:
            rnd = find_round(s, ctx.actor, cohort, "p")
            report.round_id, report.due = rnd.id, rnd.due_at
            found = {m.username: m for m in s.scalars(select(Member))}
            for m in found.values():
                s.expunge(m)
        with api.gradebook as gb:  # nbgrader's gradebook, not the store
            row = gb.find_grade("cell", "notebook", "p", "ana")
            row.manual_score = 1.0
        seen = set()
        seen.add(rnd.id)
        return packets.write_packets
    """


@pytest.mark.parametrize("what", sorted(PLANTED))
def test_a_planted_write_or_private_reach_is_found(what: str) -> None:
    assert reach_violations(textwrap.dedent(PLANTED[what]), "planted.py"), what


def test_the_reading_leaves_harmless_code_alone() -> None:
    assert reach_violations(textwrap.dedent(HARMLESS), "harmless.py") == []


def test_no_module_of_the_exchange_writes_a_row_or_reaches_a_private_name() -> None:
    modules = sorted(EXCHANGE.glob("*.py"))
    assert len(modules) > 10
    found = [
        v for path in modules for v in reach_violations(path.read_text(), f"exchange/{path.name}")
    ]
    assert found == [], "\n".join(found)


def test_the_watch_sees_a_write_made_in_exchange_code_and_not_one_made_by_the_services(
    exchange_orm_writes: list[str],
) -> None:
    """Code compiled as if it were a module of exchange/ changes and adds rows: caught. The
    same change made by a function it calls outside exchange/ (as a services function) is not;
    nor are a test's own rows. No database: the watch looks at the ORM's events. The watch
    every exchange test runs under (conftest.py) saw the same, and is told they were planted."""
    planted = compile(
        textwrap.dedent("""
            def direct(alloc):
                alloc.status = "withdrawn"

            def added(session):
                session.add(ReviewRound(cohort_id=1, assignment="x", status="open"))

            def through_services(alloc):
                services_write(alloc)
            """),
        str(EXCHANGE / "planted.py"),
        "exec",
    )

    def services_write(alloc: Allocation) -> None:  # its frame is outside exchange/
        alloc.status = "withdrawn"

    code: dict = {"ReviewRound": ReviewRound, "services_write": services_write}
    exec(planted, code)
    found: list[str] = []
    with watch_orm_writes(found), Session() as session:
        alloc = Allocation(round_id=1, reviewer_id=1, submission_id=1, kind="peer", packet="p")
        session.add(alloc)
        code["through_services"](alloc)
        assert found == []
        code["direct"](alloc)
        code["added"](session)
    assert [f.split(": ", 1)[1] for f in found] == [
        "Allocation.status = 'withdrawn'",
        "ReviewRound.cohort_id = 1",
        "ReviewRound.assignment = 'x'",
        "ReviewRound.status = 'open'",
        "session.add(ReviewRound)",
    ]
    assert all(f.startswith("planted.py:") for f in found)
    alloc.status = "assigned"  # outside this watch: nothing recorded
    assert len(found) == 5
    assert exchange_orm_writes == found
    exchange_orm_writes.clear()
