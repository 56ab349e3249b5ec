"""The community archive: exact round trips between databases, and clear refusals."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import (
    Activity,
    Allocation,
    Artifact,
    Base,
    Cohort,
    Event,
    Member,
    Post,
    Review,
    ReviewRound,
    ReviewSubmission,
    Rubric,
)
from nbcohort.cohorts.schema import head_revision
from nbcohort.cohorts.services.archive import (
    FORMAT,
    ArchiveError,
    ArchiveManifest,
    export_archive,
    import_archive,
)
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.errors import ServiceError
from nbcohort.cohorts.services.posts import create_post, flag_post, react
from nbcohort.cohorts.services.roster import import_roster
from nbcohort.cohorts.store import Store, make_engine

SYSTEM = Actor.system()
BLOB = bytes(range(256)) + b"\x00\xff notebook \xe2\x9c\x93"
ROSTER = (
    "name,email,team,role,timezone\n"
    "Ana Souza,ana@example.org,red,learner,America/Sao_Paulo\n"
    "نور الهدى,nour@example.org,أزرق,learner,Asia/Amman\n"
    "שירה כהן,shira@example.org,red,champion,Asia/Jerusalem\n"
    "Dee Dee,dee@example.org,,learner,\n"
    "Fay Lindqvist,fay@example.org,,facilitator,Europe/Stockholm\n"
)


# --- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture
def other_store(db_url: str, tmp_path: Path) -> Iterator[Store]:
    """A second empty, migrated database on the same kind of server as ``db_url``."""
    if make_url(db_url).get_backend_name() == "sqlite":
        store = Store.open(f"sqlite:///{tmp_path / 'b.sqlite'}", upgrade=True)
        yield store
        store.close()
        return
    name = f"nbc_b_{uuid.uuid4().hex[:12]}"
    admin_url = make_url(db_url).set(database="postgres").render_as_string(hide_password=False)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(db_url).set(database=name).render_as_string(hide_password=False)
    store = Store.open(url, upgrade=True)
    yield store
    store.close()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def populate(store: Store) -> None:
    """A small community touching every kind of value: dates, JSON, bytes, a self-reference."""
    with store.write() as s:
        cohort = create_cohort(s, SYSTEM, "spring-26", "Practical pandas ✓",
                               starts_on=date(2026, 3, 2), ends_on=date(2026, 6, 26))  # fmt: skip
        cohort.settings = {"digest": {"day": "fri", "hour": 9}, "motto": "تعلم معا"}
        import_roster(s, SYSTEM, cohort, ROSTER)
    with store.write() as s:
        cohort = s.scalar(select(Cohort))
        people = {m.username: m for m in s.scalars(select(Member))}
        ana, nour, shira = (Actor.of(people[u]) for u in ("ana", "nour", "shira"))
        people["ana"].calendar_link_version = 2  # she replaced her calendar link twice
        first = create_post(s, ana, cohort, "module-1/section-2", "Why **groupby**?", title="Q")
        reply = create_post(s, nour, cohort, "module-1/section-2", "مرحبا — try `.agg`",
                            parent_id=first.id)  # fmt: skip
        create_post(s, shira, cohort, "module-1/section-2", "A reply to a reply",
                    parent_id=reply.id)  # fmt: skip
        create_post(s, shira, cohort, "topic/pandas-tips", "Use `query()`")
        react(s, nour, first.id, "helpful")
        react(s, shira, first.id, "+1")
        flag_post(s, nour, first.id, "off topic?")
        paris = ZoneInfo("Europe/Paris")
        s.add_all([
            Artifact(
                cohort_id=cohort.id, author_id=people["ana"].id, title="My notebook",
                tags=["pandas", "שלום"], license="CC0-1.0", filename="nb.ipynb", content=BLOB,
                sha256=hashlib.sha256(BLOB).hexdigest(), size=len(BLOB),
            ),
            Event(cohort_id=cohort.id, title="Clinic", starts_at=datetime(2026, 3, 5, 17, 30,
                                                                          tzinfo=paris)),
            Rubric(cohort_id=cohort.id, assignment="a1", criteria=[{"key": "clarity", "max": 4}]),
        ])  # fmt: skip
        s.flush()
        rnd = ReviewRound(cohort_id=cohort.id, assignment="a1", seed=7,
                          rubric_id=s.scalar(select(Rubric.id)))  # fmt: skip
        s.add(rnd)
        s.flush()
        sub = ReviewSubmission(
            round_id=rnd.id,
            author_id=people["ana"].id,
            problems=["cell 3 names the author"],
            result={"total": 7.5},
        )
        s.add(sub)
        s.flush()
        for reviewer in ("nour", "shira"):
            alloc = Allocation(round_id=rnd.id, reviewer_id=people[reviewer].id,
                               submission_id=sub.id)  # fmt: skip
            s.add(alloc)
            s.flush()
            s.add(Review(allocation_id=alloc.id, scores={"clarity": 3.5, "note": None},
                         comments={}, helpfulness=None))  # fmt: skip


def export(store: Store, dest: Path) -> ArchiveManifest:
    with store.read(snapshot=True) as s:  # as `nbcohort export` does
        return export_archive(s, dest)


def load(store: Store, src: Path) -> ArchiveManifest:
    with store.write() as s:
        return import_archive(s, src)


def table_files(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist() if n.startswith("tables/")}


def row_counts(store: Store) -> dict[str, int]:
    with store.read() as s:
        return {
            t.name: s.scalar(select(func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables
        }


def rewrite(
    src: Path,
    dest: Path,
    *,
    drop: tuple[str, ...] = (),
    files: dict[str, bytes] | None = None,
    manifest: Callable[[dict], None] | None = None,
    fix_checksums: bool = True,
) -> Path:
    """Copy an archive with some files dropped or replaced; the manifest follows unless told."""
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if n not in drop}
    doc = json.loads(members["manifest.json"])
    for name, data in (files or {}).items():
        members[name] = data
        entry = next(t for t in doc["tables"] if t["file"] == name)
        if fix_checksums:
            entry["sha256"] = hashlib.sha256(data).hexdigest()
            entry["rows"] = data.count(b"\n")
    if manifest is not None:
        manifest(doc)
    members["manifest.json"] = json.dumps(doc).encode()
    with zipfile.ZipFile(dest, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return dest


@pytest.fixture
def archive(store: Store, tmp_path: Path) -> Path:
    populate(store)
    path = tmp_path / "community.zip"
    export(store, path)
    return path


def refused(other_store: Store, src: Path) -> str:
    """Import ``src``, expect an ArchiveError, check nothing was written; return the message."""
    with pytest.raises(ArchiveError) as info:
        load(other_store, src)
    assert set(row_counts(other_store).values()) == {0}
    return info.value.message


# --- the archive itself ----------------------------------------------------------------------


def test_export_writes_manifest_and_one_file_per_table(store: Store, archive: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        doc = json.loads(zf.read("manifest.json"))
        names = set(zf.namelist())
    assert doc["format"] == FORMAT
    assert doc["format_version"] == 1
    assert doc["schema_revision"] == head_revision()
    assert datetime.fromisoformat(doc["created_at"]).tzinfo is not None
    assert [t["name"] for t in doc["tables"]] == [t.name for t in Base.metadata.sorted_tables]
    assert names == {"manifest.json"} | {t["file"] for t in doc["tables"]}
    assert {t["name"]: t["rows"] for t in doc["tables"]} == row_counts(store)
    columns = {t["name"]: t["columns"] for t in doc["tables"]}
    assert columns["artifact"]["content"] == "bytes"
    assert columns["artifact"]["tags"] == "json"
    assert columns["cohort"]["starts_on"] == "date"
    assert columns["post"]["created_at"] == "datetime"
    assert list(columns["post"]) == sorted(columns["post"])


def test_values_are_encoded_portably(archive: Path) -> None:
    files = table_files(archive)
    cohort = json.loads(files["tables/cohort.jsonl"])
    assert list(cohort) == sorted(cohort)
    assert cohort["starts_on"] == "2026-03-02"
    assert cohort["settings"] == {"digest": {"day": "fri", "hour": 9}, "motto": "تعلم معا"}
    assert cohort["created_at"].endswith("+00:00")
    event = json.loads(files["tables/event.jsonl"])
    assert event["starts_at"] == "2026-03-05T16:30:00+00:00"
    artifact = json.loads(files["tables/artifact.jsonl"])
    assert base64.b64decode(artifact["content"]) == BLOB
    posts = [json.loads(line) for line in files["tables/post.jsonl"].splitlines()]
    assert [p["id"] for p in posts] == sorted(p["id"] for p in posts)
    assert "نور" in files["tables/member.jsonl"].decode("utf-8")  # not \\u-escaped


def test_round_trip_is_exact(store: Store, other_store: Store, archive: Path, tmp_path: Path):
    manifest = load(other_store, archive)
    assert manifest.counts() == row_counts(store) == row_counts(other_store)
    again = tmp_path / "again.zip"
    second = export(other_store, again)
    assert table_files(again) == table_files(archive)
    assert [(t.name, t.rows, t.sha256) for t in second.tables] == [
        (t.name, t.rows, t.sha256) for t in manifest.tables
    ]
    with other_store.read() as s:
        artifact = s.scalar(select(Artifact))
        assert artifact is not None
        assert artifact.content == BLOB
        names = set(s.scalars(select(Member.name)))
        assert {"نور الهدى", "שירה כהן"} <= names
        versions = dict(s.execute(select(Member.username, Member.calendar_link_version)).all())
        assert versions["ana"] == 2 and versions["nour"] == 0  # her feed link stays the new one


def test_new_rows_get_fresh_ids_after_import(other_store: Store, archive: Path) -> None:
    load(other_store, archive)
    with other_store.write() as s:
        top = {t: s.scalar(select(func.max(t.id))) for t in (Post, Activity, Member)}
        cohort = s.scalar(select(Cohort))
        ana = s.scalar(select(Member).where(Member.username == "ana"))
        post = create_post(s, Actor.of(ana), cohort, "topic/after-import", "new here")
        import_roster(s, SYSTEM, cohort, ROSTER + "New One,new@example.org,,learner,\n")
        new_member = s.scalar(select(Member).where(Member.username == "new"))
        assert post.id == top[Post] + 1
        assert new_member.id == top[Member] + 1
        assert s.scalar(select(func.max(Activity.id))) > top[Activity]


def test_sqlite_archive_imports_into_this_database(other_store: Store, tmp_path: Path) -> None:
    """SQLite to SQLite here; SQLite to PostgreSQL on the PostgreSQL leg."""
    source = Store.open(f"sqlite:///{tmp_path / 'source.sqlite'}", upgrade=True)
    try:
        populate(source)
        export(source, tmp_path / "a.zip")
    finally:
        source.close()
    load(other_store, tmp_path / "a.zip")
    export(other_store, tmp_path / "b.zip")
    assert table_files(tmp_path / "a.zip") == table_files(tmp_path / "b.zip")


def test_export_replaces_dest_atomically(store: Store, tmp_path: Path) -> None:
    populate(store)
    dest = tmp_path / "x.zip"
    dest.write_bytes(b"old")
    export(store, dest)
    assert zipfile.is_zipfile(dest)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    with pytest.raises(ArchiveError, match="does not exist"):
        export(store, tmp_path / "missing" / "x.zip")


# --- refusals --------------------------------------------------------------------------------


def test_refuses_a_database_that_is_not_empty(store: Store, archive: Path) -> None:
    before = row_counts(store)
    with pytest.raises(ArchiveError) as info:
        load(store, archive)
    assert "the database is not empty (table 'cohort' has rows)" in info.value.message
    assert row_counts(store) == before


def test_refuses_a_database_without_the_schema(archive: Path, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bare.sqlite'}")
    with Session(engine) as s, pytest.raises(ArchiveError, match="nbcohort upgrade-db"):
        import_archive(s, archive)
    engine.dispose()


def test_not_a_zip(other_store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "notes.zip"
    bad.write_text("hello")
    assert "is not an nbcohort archive (not a zip file" in refused(other_store, bad)
    assert "no archive at" in refused(other_store, tmp_path / "nowhere.zip")


def test_missing_manifest(other_store: Store, archive: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(archive) as zf, zipfile.ZipFile(tmp_path / "b.zip", "w") as out:
        for name in zf.namelist():
            if name != "manifest.json":
                out.writestr(name, zf.read(name))
    assert "has no manifest.json" in refused(other_store, tmp_path / "b.zip")


def test_wrong_format_or_version(other_store: Store, archive: Path, tmp_path: Path) -> None:
    bad = rewrite(archive, tmp_path / "b.zip", manifest=lambda d: d.update(format="other"))
    assert "does not describe an 'nbcohort-archive'" in refused(other_store, bad)
    bad = rewrite(archive, tmp_path / "c.zip", manifest=lambda d: d.update(format_version=2))
    assert "format version 2; this nbcohort reads version 1 only" in refused(other_store, bad)


def test_other_schema_revision(other_store: Store, archive: Path, tmp_path: Path) -> None:
    bad = rewrite(archive, tmp_path / "b.zip", manifest=lambda d: d.update(schema_revision="9z"))
    message = refused(other_store, bad)
    assert f"schema revision 9z, which this nbcohort (schema {head_revision()})" in message
    assert "upgrade nbcohort" in message


def test_missing_table_file(other_store: Store, archive: Path, tmp_path: Path) -> None:
    bad = rewrite(archive, tmp_path / "b.zip", drop=("tables/post.jsonl",))
    assert "table file tables/post.jsonl is missing" in refused(other_store, bad)


def test_checksum_mismatch(other_store: Store, archive: Path, tmp_path: Path) -> None:
    data = table_files(archive)["tables/member.jsonl"].replace(b"Ana Souza", b"Ana Sousa")
    bad = rewrite(archive, tmp_path / "b.zip", files={"tables/member.jsonl": data},
                  fix_checksums=False)  # fmt: skip
    assert "tables/member.jsonl does not match its checksum" in refused(other_store, bad)


def test_row_count_mismatch(other_store: Store, archive: Path, tmp_path: Path) -> None:
    def undercount(doc: dict) -> None:
        next(t for t in doc["tables"] if t["name"] == "post")["rows"] = 1

    bad = rewrite(archive, tmp_path / "b.zip", manifest=undercount)
    assert "tables/post.jsonl holds 4 rows, manifest.json says 1" in refused(other_store, bad)


def test_malformed_line_in_the_last_table_writes_nothing(
    other_store: Store, archive: Path, tmp_path: Path
) -> None:
    """Every earlier table was inserted by then: the savepoint takes them all back."""
    files = table_files(archive)
    # The last table (in insert order) with two rows: every table before it is inserted first.
    name = next(n for n in (f"tables/{t.name}.jsonl" for t in reversed(Base.metadata.sorted_tables))
                if files[n].count(b"\n") >= 2)  # fmt: skip
    assert name.endswith(("review.jsonl", "reaction.jsonl"))
    lines = files[name].splitlines(keepends=True)
    lines[1] = b'{"id": 2, oops\n'
    bad = rewrite(archive, tmp_path / "b.zip", files={name: b"".join(lines)})
    with other_store.write() as s, pytest.raises(ArchiveError) as info:
        import_archive(s, bad)  # the error is caught inside the unit of work, which commits
    assert f"{name} line 2 is not valid JSON" in info.value.message
    assert set(row_counts(other_store).values()) == {0}


def test_bad_value_names_file_line_and_column(
    other_store: Store, archive: Path, tmp_path: Path
) -> None:
    data = table_files(archive)["tables/event.jsonl"]
    row = json.loads(data)
    row["starts_at"] = "2026-03-05T16:30:00"
    bad = rewrite(archive, tmp_path / "b.zip",
                  files={"tables/event.jsonl": (json.dumps(row) + "\n").encode()})  # fmt: skip
    message = refused(other_store, bad)
    assert "tables/event.jsonl line 1, column 'starts_at'" in message
    assert "has no UTC offset" in message
    row = json.loads(data)
    del row["title"]
    bad = rewrite(archive, tmp_path / "c.zip",
                  files={"tables/event.jsonl": (json.dumps(row) + "\n").encode()})  # fmt: skip
    assert "tables/event.jsonl line 1 does not hold the columns" in refused(other_store, bad)
    row = json.loads(data)
    row["id"] = True
    bad = rewrite(archive, tmp_path / "d.zip",
                  files={"tables/event.jsonl": (json.dumps(row) + "\n").encode()})  # fmt: skip
    message = refused(other_store, bad)
    assert "tables/event.jsonl line 1, column 'id': expected integer, found bool" in message


def test_archive_error_is_a_service_error() -> None:
    assert issubclass(ArchiveError, ServiceError)
    assert ArchiveError("x").as_dict()["error"] == "bad_archive"


def test_rows_the_database_refuses(other_store: Store, archive: Path, tmp_path: Path) -> None:
    """A row pointing at a post that is not in the archive: the FK check refuses it."""
    rows = [json.loads(line) for line in table_files(archive)["tables/reaction.jsonl"].split(b"\n")
            if line]  # fmt: skip
    rows[0]["post_id"] = 999_999
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    bad = rewrite(archive, tmp_path / "b.zip", files={"tables/reaction.jsonl": data})
    message = refused(other_store, bad)
    assert "tables/reaction.jsonl: the database refused a row" in message
