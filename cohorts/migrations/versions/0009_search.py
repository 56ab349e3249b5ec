"""Search over posts, threads and artifacts, kept current by the database itself.

SQLite: one FTS5 table per searched table (``search_post``, ``search_thread``,
``search_artifact``), keyed by the row's id and filled by triggers on every insert, edit and
delete, whoever writes (the service, the CLI, an archive import, plain SQL). A deleted post
leaves the index: its words can no longer be found by anyone. PostgreSQL: a generated
``search_terms`` tsvector column on each searched table (NULL for a deleted post) with a GIN
index. Both use the same words: letters and digits, with ASCII punctuation as a separator
(PostgreSQL's parser would otherwise keep ``df.groupby`` or ``module-2/merge`` as one token).

Hidden posts stay in the index (staff may search them); the services layer decides who sees
what (``services/search.py``). No model maps these structures: ``models.is_search_index``
names them, so schema comparisons leave them out.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:00:00
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# table -> the columns searched, in the order the index keeps them (weight A first).
SEARCHED = {
    "post": ("body_md",),
    "thread": ("title", "anchor"),
    "artifact": ("title", "tags", "filename", "description"),
}
_TOKENIZE = "unicode61 remove_diacritics 2"
_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_WEIGHTS = "ABCD"


def _sqlite_upgrade() -> None:
    for table, columns in SEARCHED.items():
        index = f"search_{table}"
        op.execute(
            f"CREATE VIRTUAL TABLE {index} USING fts5({', '.join(columns)}, tokenize='{_TOKENIZE}')"
        )
        names = ", ".join(columns)
        new = ", ".join(f"NEW.{c}" for c in columns)
        post = table == "post"
        when = " WHEN NOT NEW.deleted" if post else ""
        keep = " WHERE NOT NEW.deleted" if post else ""
        watched = ", ".join(("id", *columns, *(("deleted",) if post else ())))
        op.execute(
            f"CREATE TRIGGER {index}_insert AFTER INSERT ON {table}{when} BEGIN "
            f"INSERT INTO {index}(rowid, {names}) VALUES (NEW.id, {new}); END"
        )
        op.execute(
            f"CREATE TRIGGER {index}_update AFTER UPDATE OF {watched} ON {table} BEGIN "
            f"DELETE FROM {index} WHERE rowid = OLD.id; "
            f"INSERT INTO {index}(rowid, {names}) SELECT NEW.id, {new}{keep}; END"
        )
        op.execute(
            f"CREATE TRIGGER {index}_delete AFTER DELETE ON {table} BEGIN "
            f"DELETE FROM {index} WHERE rowid = OLD.id; END"
        )
        where = " WHERE NOT deleted" if post else ""
        op.execute(f"INSERT INTO {index}(rowid, {names}) SELECT id, {names} FROM {table}{where}")


def _pg_text(column: str) -> str:
    """A column as the words PostgreSQL indexes: ASCII punctuation becomes a space."""
    spaces = " " * len(_PUNCTUATION)
    quoted = _PUNCTUATION.replace("'", "''")
    value = f"coalesce({column}::text, '')"
    return f"translate({value}, '{quoted}', '{spaces}')"


def _pg_vector(table: str) -> str:
    parts = [
        f"setweight(to_tsvector('simple'::regconfig, {_pg_text(column)}), '{weight}')"
        for column, weight in zip(SEARCHED[table], _WEIGHTS, strict=False)
    ]
    vector = " || ".join(parts)
    return f"CASE WHEN deleted THEN NULL ELSE {vector} END" if table == "post" else vector


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
        return
    for table in SEARCHED:
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN search_terms tsvector "
            f"GENERATED ALWAYS AS ({_pg_vector(table)}) STORED"
        )
        op.execute(f"CREATE INDEX ix_{table}_search_terms ON {table} USING gin (search_terms)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in SEARCHED:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER search_{table}_{event}")
            op.execute(f"DROP TABLE search_{table}")
        return
    for table in SEARCHED:
        op.execute(f"DROP INDEX ix_{table}_search_terms")
        op.execute(f"ALTER TABLE {table} DROP COLUMN search_terms")
