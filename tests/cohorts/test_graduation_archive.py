"""Graduating the demo cohort loses nothing: the community's export archive before and after
graduation differs only in roles (learners become alumni), topics (the community topic an
alumna starts) and cadence (the community's rhythm), checked row by row on the archives
``nbcohort export`` writes. A dry run leaves the archive as it was."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from traitlets.config import Config

from nbcohort.cohorts.demo_seed import seed_demo
from nbcohort.cohorts.models import Base, Cohort, Member, utcnow
from nbcohort.cohorts.services import community
from nbcohort.cohorts.services.archive import export_archive
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cadence_tick import STEPS, run_tick
from nbcohort.cohorts.services.graduation import graduate
from nbcohort.cohorts.store import Store
from tests.helpers.demo_pages import demo_course
from tests.helpers.graduation import demo_cohort_file_applied

pytestmark = pytest.mark.slow
SYSTEM = Actor.system()
Rows = dict[str, dict[tuple[Any, ...], dict[str, Any]]]

# What graduation may change in a row that was there before (and nothing else).
CHANGED = {
    "member": {"role", "updated_at"},
    "cohort": {"community", "graduated_at", "settings"},
}
# Where it may add rows: the log, the community topic (thread and post), the cadence.
ADDED = {"activity", "thread", "post", "cadence_item", "event"}


def _rows(archive: Path) -> Rows:
    out: Rows = {}
    with zipfile.ZipFile(archive) as zf:
        for table in Base.metadata.sorted_tables:
            keys = [c.name for c in table.primary_key.columns]
            lines = zf.read(f"tables/{table.name}.jsonl").decode().splitlines()
            rows = [json.loads(line) for line in lines]
            out[table.name] = {tuple(r[k] for k in keys): r for r in rows}
    return out


def _tables(archive: Path) -> dict[str, str]:
    with zipfile.ZipFile(archive) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    return {t["name"]: t["sha256"] for t in manifest["tables"]}


def _export(store: Store, dest: Path) -> Path:
    with store.read(snapshot=True) as s:
        export_archive(s, dest)
    return dest


def _demo_with_its_cohort_file(store: Store) -> int:
    """The demo cohort with its cohort file, and the cadence's two weeks so far published."""
    with store.write() as s:
        cohort = seed_demo(s, demo_course()).cohort
        slug, cohort_id = cohort.slug, cohort.id
    demo_cohort_file_applied(store, cohort_id)
    quiet = [step for step in STEPS if step[0] != "mail"]
    for report in run_tick(store, [slug], now=utcnow(), config=Config(), steps=quiet):
        assert not report.errors, report.errors
    return cohort_id


def test_graduating_the_demo_cohort_changes_only_roles_topics_and_cadence(store, tmp_path):
    cohort_id = _demo_with_its_cohort_file(store)
    before = _export(store, tmp_path / "before.zip")
    with store.write() as s:
        dry = graduate(s, SYSTEM, s.get_one(Cohort, cohort_id), dry_run=True)
    assert dry.alumni
    assert _tables(_export(store, tmp_path / "dry.zip")) == _tables(before)  # nothing at all
    with store.write() as s:
        report = graduate(s, SYSTEM, s.get_one(Cohort, cohort_id))
        assert sorted(report.alumni) == sorted(dry.alumni)  # the dry run said exactly this
        alumna = s.scalars(
            select(Member).where(Member.cohort_id == cohort_id, Member.role == "alumni")
        ).first()
        assert alumna is not None
        home = s.get_one(Cohort, cohort_id)
        community.create_topic(s, Actor.of(alumna), home, "after-the-course", "After the course",
                               "What are you working on now?")  # fmt: skip
    after = _export(store, tmp_path / "after.zip")
    old, new = _rows(before), _rows(after)
    changed: dict[str, set[str]] = {}
    for table, rows in old.items():
        for key, row in rows.items():
            now = new[table].get(key)
            if now is None:  # only planned (never published) cadence items leave the plan
                assert table == "cadence_item" and row["state"] == "planned", (table, row)
                continue
            diff = {c for c in row if row[c] != now[c]}
            if table == "cadence_item" and row["state"] == "planned":
                continue  # the plan of the community's rhythm: planned items may change
            if table == "event" and row["kind"] == "clinic":
                continue  # the clinic's calendar entry follows the community's clinic
            if table == "event" and row["kind"] == "routine":  # the course's routines end
                assert diff == {"rrule"} and ";UNTIL=" in now["rrule"], (row, now)
                assert now["rrule"].startswith(row["rrule"])
                continue
            assert diff <= CHANGED.get(table, set()), (table, key, diff)
            if diff:
                changed.setdefault(table, set()).update(diff)
    assert changed.keys() == {"member", "cohort"}
    roles = {
        (old["member"][k]["role"], new["member"][k]["role"])
        for k in old["member"]
        if old["member"][k]["role"] != new["member"][k]["role"]
    }
    assert roles == {("learner", "alumni")}
    assert {m["role"] for m in new["member"].values()} >= {"champion", "facilitator", "instructor"}
    (cohort_key,) = [k for k, r in old["cohort"].items() if r["id"] == cohort_id]
    was, now = old["cohort"][cohort_key]["settings"], new["cohort"][cohort_key]["settings"]
    assert {k for k in now if now.get(k) != was.get(k)} == {"rhythm", "course_cadence"}
    assert now["course_cadence"] == was["rhythm"]["cadence"]  # the course's cadence is kept
    assert {k for k in now["rhythm"] if now["rhythm"][k] != was["rhythm"][k]} == {"cadence"}
    added = {t: [r for k, r in rows.items() if k not in old[t]] for t, rows in new.items()}
    assert {t for t, rows in added.items() if rows} <= ADDED
    assert [(t["anchor"], t["kind"]) for t in added["thread"]] == [
        ("topic/after-the-course", "community")
    ]
    assert len(added["post"]) == 1
    verbs = sorted({a["verb"] for a in added["activity"]})
    assert verbs == ["cohort.graduate", "post.create", "thread.create", "topic.create"]
    assert all(r["kind"] == "clinic" for r in added["event"])
    # and published cadence items are all still there, as they were
    published = {k: r for k, r in old["cadence_item"].items() if r["state"] != "planned"}
    assert published and all(new["cadence_item"][k] == r for k, r in published.items())
