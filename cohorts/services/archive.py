"""A portable archive of the whole community: every table as JSON Lines in one zip file.

The archive outlives the database it came from: it moves a community from SQLite to
PostgreSQL, to another machine, or into a backup that a person can read. Export and import
are exact inverses, so exporting an imported archive gives the same table files, byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Base, utcnow
from nbcohort.cohorts.schema import alembic_config, head_revision
from nbcohort.cohorts.services.errors import ServiceError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ArchiveError",
    "ArchiveManifest",
    "TableEntry",
    "export_archive",
    "import_archive",
]

FORMAT = "nbcohort-archive"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_BATCH = 1000
_BLOB_BATCH = 4  # rows of a table with a file in each (``_batch``)


class ArchiveError(ServiceError):
    """An archive that cannot be written or imported; nothing was changed."""

    status = 422
    code = "bad_archive"


@dataclass(frozen=True)
class TableEntry:
    """One table's file in the archive: its row count, checksum and column types."""

    name: str
    file: str
    rows: int
    sha256: str
    columns: dict[str, str]


@dataclass(frozen=True)
class ArchiveManifest:
    """What ``manifest.json`` says: format, schema revision and every table, in FK order."""

    schema_revision: str
    created_at: str
    tables: tuple[TableEntry, ...]
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def counts(self) -> dict[str, int]:
        return {t.name: t.rows for t in self.tables}

    def summary(self) -> str:
        """'31 members, 40 posts, … (schema 0002)' for the CLI."""
        c = self.counts()
        parts = [
            f"{c.get(t, 0)} {label}"
            for t, label in (
                ("cohort", "cohorts"),
                ("member", "members"),
                ("post", "posts"),
                ("artifact", "artifacts"),
                ("activity", "activity entries"),
            )
        ]
        return f"{', '.join(parts)} (schema {self.schema_revision})"

    def to_json(self) -> str:
        doc = {"format": self.format, "format_version": self.format_version} | asdict(self)
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _kind(table: sa.Table, column: str) -> str:
    """How a column's values are written: integer, string, boolean, datetime, date, bytes, json."""
    ctype = table.c[column].type
    if isinstance(ctype, sa.TypeDecorator):
        ctype = ctype.impl_instance
    for cls, kind in (
        (sa.Boolean, "boolean"),
        (sa.Integer, "integer"),
        (sa.DateTime, "datetime"),
        (sa.Date, "date"),
        (sa.LargeBinary, "bytes"),
        (sa.JSON, "json"),
        (sa.String, "string"),
    ):
        if isinstance(ctype, cls):
            return kind
    raise TypeError(f"archive: no encoding for {table.name}.{column} ({ctype!r})")


def _columns(table: sa.Table) -> dict[str, str]:
    """The columns an archive carries: all but those the database derives (thread.version)."""
    return {
        name: _kind(table, name)
        for name in sorted(table.c.keys())
        if not table.c[name].info.get("derived")
    }


def _encode(value: Any, kind: str) -> Any:
    if value is None or kind in ("integer", "string", "boolean", "json"):
        return value
    if kind in ("datetime", "date"):
        return value.isoformat()
    return base64.b64encode(value).decode("ascii")


def _decode(value: Any, kind: str) -> Any:
    """The Python value for a JSON value; ValueError says what is wrong with it."""
    if value is None or kind == "json":
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str) or kind in ("boolean", "integer"):
        raise ValueError(f"expected {kind}, found {type(value).__name__}")
    if kind == "datetime":
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError(f"datetime {value!r} has no UTC offset")
        return moment
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "bytes":
        return base64.b64decode(value, validate=True)
    return value


def _line(row: Any, columns: dict[str, str]) -> bytes:
    values = {name: _encode(row[name], kind) for name, kind in columns.items()}
    return (json.dumps(values, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def export_archive(session: Session, dest: Path) -> ArchiveManifest:
    """Write every table of the store to the zip file ``dest`` (replaced atomically).

    Rows are ordered by primary key and columns by name, so the same data always gives the
    same table files. Export from a snapshot read (``store.read(snapshot=True)``): every
    table as of one moment, in the transaction its server-side cursors need.
    """
    dest = Path(dest)
    if not dest.parent.is_dir():
        raise ArchiveError(f"cannot write {dest}: folder {dest.parent} does not exist")
    entries: list[TableEntry] = []
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for table in Base.metadata.sorted_tables:
                columns = _columns(table)
                name = f"tables/{table.name}.jsonl"
                digest, rows = hashlib.sha256(), 0
                query = sa.select(table).order_by(*table.primary_key.columns)
                result = session.execute(query.execution_options(yield_per=_batch(table)))
                with zf.open(name, "w") as out:
                    for row in result.mappings():
                        line = _line(row, columns)
                        digest.update(line)
                        out.write(line)
                        rows += 1
                entries.append(TableEntry(table.name, name, rows, digest.hexdigest(), columns))
            manifest = ArchiveManifest(head_revision(), utcnow().isoformat(), tuple(entries))
            zf.writestr(MANIFEST, manifest.to_json())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return manifest


def _open(src: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(src)
    except FileNotFoundError:
        raise ArchiveError(f"no archive at {src}") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"{src} is not an nbcohort archive (not a zip file: {exc})") from None


def _revision_advice(found: object, head: str) -> str:
    known = [
        s.revision
        for s in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()
    ]
    if found in known:
        return (
            f"the archive was made at schema revision {found}, older than this nbcohort's "
            f"{head}: import it with the nbcohort that made it, run 'nbcohort upgrade-db' on "
            "that database, then export it again"
        )
    return (
        f"the archive was made at schema revision {found}, which this nbcohort (schema "
        f"{head}) does not know: upgrade nbcohort, then import it"
    )


def _read_manifest(zf: zipfile.ZipFile, src: Path) -> ArchiveManifest:
    """Parse and check manifest.json against this version's format and tables."""
    try:
        doc = json.loads(zf.read(MANIFEST).decode("utf-8"))
    except KeyError:
        raise ArchiveError(f"{src} has no {MANIFEST}: not an nbcohort archive") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ArchiveError(f"{src}: {MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ArchiveError(f"{src}: {MANIFEST} does not describe an {FORMAT!r}")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ArchiveError(
            f"{src} is in archive format version {doc.get('format_version')!r}; this nbcohort "
            f"reads version {FORMAT_VERSION} only"
        )
    head = head_revision()
    if doc.get("schema_revision") != head:
        raise ArchiveError(f"{src}: {_revision_advice(doc.get('schema_revision'), head)}")
    try:
        tables = tuple(
            TableEntry(
                str(t["name"]), str(t["file"]), int(t["rows"]), str(t["sha256"]), dict(t["columns"])
            )
            for t in doc["tables"]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArchiveError(f"{src}: {MANIFEST} has a malformed table list ({exc})") from None
    listed = {t.name: t for t in tables}
    for table in Base.metadata.sorted_tables:
        entry = listed.pop(table.name, None)
        if entry is None:
            raise ArchiveError(f"{src}: {MANIFEST} does not list table {table.name!r}")
        if entry.file != f"tables/{table.name}.jsonl" or entry.columns != _columns(table):
            raise ArchiveError(
                f"{src}: {MANIFEST} describes table {table.name!r} differently from schema "
                f"{head} (file or columns)"
            )
    if listed:
        raise ArchiveError(f"{src}: {MANIFEST} lists unknown table(s) {', '.join(listed)}")
    return ArchiveManifest(head, str(doc.get("created_at", "")), tables)


def _check_files(zf: zipfile.ZipFile, src: Path, manifest: ArchiveManifest) -> None:
    """Every table file is present, intact (sha256) and holds the rows the manifest counts."""
    for entry in manifest.tables:
        digest, lines = hashlib.sha256(), 0
        try:
            with zf.open(entry.file) as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
                    lines += chunk.count(b"\n")
        except KeyError:
            raise ArchiveError(f"{src}: table file {entry.file} is missing") from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise ArchiveError(f"{src}: cannot read {entry.file} ({exc})") from None
        if digest.hexdigest() != entry.sha256:
            raise ArchiveError(
                f"{src}: {entry.file} does not match its checksum in {MANIFEST}: "
                "the archive is damaged or was edited"
            )
        if lines != entry.rows:
            raise ArchiveError(
                f"{src}: {entry.file} holds {lines} rows, {MANIFEST} says {entry.rows}"
            )


def _rows(fh: IO[bytes], entry: TableEntry, src: Path) -> Iterator[dict[str, Any]]:
    for number, raw in enumerate(fh, start=1):
        where = f"{src}: {entry.file} line {number}"
        try:
            values = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ArchiveError(f"{where} is not valid JSON ({exc})") from None
        if not isinstance(values, dict) or values.keys() != entry.columns.keys():
            raise ArchiveError(f"{where} does not hold the columns {', '.join(entry.columns)}")
        row = {}
        for name, kind in entry.columns.items():
            try:
                row[name] = _decode(values[name], kind)
            except (ValueError, TypeError) as exc:
                raise ArchiveError(f"{where}, column {name!r}: {exc}") from None
        yield row


def _reset_sequences(session: Session) -> None:
    """PostgreSQL: move each id sequence past the imported ids, so new rows get fresh ones."""
    quote = session.get_bind().dialect.identifier_preparer.quote
    for table in Base.metadata.sorted_tables:
        if "id" not in table.c or not table.c.id.primary_key:
            continue
        if not isinstance(table.c.id.type, sa.Integer):  # a random key (pulse_answer): no sequence
            continue
        top = session.scalar(sa.select(sa.func.max(table.c.id)))
        session.execute(
            sa.text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :value, :called)"),
            {"table": quote(table.name), "value": top or 1, "called": top is not None},
        )


def _batch(table: sa.Table) -> int:
    """Rows read or inserted at once: a few where a row may hold a file (artifact content,
    an exchange archive's 1 MiB pieces), so memory stays a few MiB whatever the table holds."""
    if any(isinstance(c.type, sa.LargeBinary) for c in table.columns):
        return _BLOB_BATCH
    return _BATCH


def _insert(session: Session, table: sa.Table, rows: Iterator[dict[str, Any]], where: str) -> None:
    batch: list[dict[str, Any]] = []
    size = _batch(table)
    try:
        for row in rows:
            batch.append(row)
            if len(batch) >= size:
                session.execute(table.insert(), batch)
                batch = []
        if batch:
            session.execute(table.insert(), batch)
    except (sa.exc.IntegrityError, sa.exc.DataError) as exc:
        raise ArchiveError(f"{where}: the database refused a row ({exc.orig})") from None


def import_archive(session: Session, src: Path) -> ArchiveManifest:
    """Load an archive into this empty, migrated database, in the caller's transaction.

    The archive is checked in full first (format, schema revision, table list, checksums,
    row counts); rows are then inserted table by table in foreign-key order with their own
    ids, inside a savepoint, so any failure leaves the database as it was.
    """
    src = Path(src)
    head = head_revision()
    current = MigrationContext.configure(session.connection()).get_current_revision()
    if current != head:
        raise ArchiveError(
            f"the database is at schema revision {current or '(none)'}, not {head}: run "
            "'nbcohort upgrade-db' on it first, then import"
        )
    with _open(src) as zf:
        manifest = _read_manifest(zf, src)
        _check_files(zf, src, manifest)
        probe = (
            t.name
            for t in Base.metadata.sorted_tables
            if session.execute(sa.select(1).select_from(t).limit(1)).first()
        )
        occupied = next(probe, None)
        if occupied is not None:
            raise ArchiveError(
                f"the database is not empty (table {occupied!r} has rows): import an archive "
                "only into a new database, created with 'nbcohort upgrade-db'"
            )
        tables = {t.name: t for t in Base.metadata.sorted_tables}
        with session.begin_nested():
            for entry in manifest.tables:
                table = tables[entry.name]
                with zf.open(entry.file) as fh:
                    _insert(session, table, _rows(fh, entry, src), f"{src}: {entry.file}")
            if session.get_bind().dialect.name == "postgresql":
                _reset_sequences(session)
    return manifest
