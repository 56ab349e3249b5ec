"""The store's schema: Alembic migrations packaged with nbcohort, applied in one transaction,
and the revision check that refuses a database of another version, naming the command that
fixes it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import SQLAlchemyError

from nbcohort.cohorts.store import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

__all__ = [
    "alembic_config",
    "check_db_revision",
    "current_revision",
    "downgrade_db",
    "head_revision",
    "migration_connection",
    "upgrade_db",
]

# The newest migration, which a database of this version is at: ``check_db_revision``
# compares with it before loading Alembic, whose import is a large part of the start-up of a
# command cron runs every minute (``cadence tick``). A test keeps it equal to Alembic's head.
HEAD = "0023_calendar_link_version"


def alembic_config(url: str) -> AlembicConfig:
    """Alembic configuration for the packaged migrations, pointed at ``url``."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "nbcohort.cohorts:migrations")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest migration this version of nbcohort knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def upgrade_db(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (creates it when empty)."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with migration_connection(engine) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade_db(engine: Engine, revision: str) -> None:
    """Take the database schema back to ``revision`` (for tests and recovery by hand)."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with migration_connection(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """One transaction for a schema change: all of it or none of it.

    On SQLite, foreign keys are off while it runs and checked before it commits: Alembic's
    batch mode rebuilds a table by copying it and dropping the old one, and with foreign
    keys on, that drop would delete every row referencing the table (posts, with their
    thread table rebuilt). The renaming of the copy leaves triggers alone (legacy ALTER
    TABLE): they name the table, which keeps its name, and modern RENAME would refuse while
    the old table is gone. A change that leaves a dangling reference is rolled back whole.
    """
    with engine.connect() as conn:
        raw = conn.connection.driver_connection if engine.dialect.name == "sqlite" else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys = OFF")  # only outside a transaction
            raw.execute("PRAGMA legacy_alter_table = ON")
        try:
            with conn.begin():
                yield conn
                if raw is not None:
                    dangling = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if dangling:
                        table, rowid, parent, _ = dangling[0]
                        raise DatabaseError(
                            f"the schema change left {len(dangling)} rows pointing at rows "
                            f"that do not exist (first: {table} row {rowid} -> {parent}); "
                            "nothing was changed"
                        )
        finally:
            if raw is not None:
                raw.execute("PRAGMA legacy_alter_table = OFF")
                raw.execute("PRAGMA foreign_keys = ON")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_db_revision(engine: Engine) -> None:
    """Refuse a database whose schema is not this version's, naming the fix."""
    try:  # the usual case, without Alembic: the database is at HEAD
        with engine.connect() as conn:
            versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        if [row[0] for row in versions] == [HEAD]:
            return
    except SQLAlchemyError:  # no such table, or no database: the full check says which
        pass
    from alembic.script import ScriptDirectory

    try:
        current = current_revision(engine)
    except Exception as exc:  # unreadable file, no server, no permission
        raise DatabaseError(f"cannot open the database at {engine.url!r}: {exc}") from exc
    head = head_revision()
    if current == head:
        return
    if current is None:
        if inspect(engine).get_table_names():
            raise DatabaseError(
                f"the database at {engine.url!r} holds tables but no nbcohort schema "
                "revision: it is not an nbcohort database. Point db_url at an empty database."
            )
        raise DatabaseError(
            f"the database at {engine.url!r} has no nbcohort schema yet. "
            "Run 'nbcohort upgrade-db' to create it."
        )
    known = {
        s.revision
        for s in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()
    }
    if current not in known:
        raise DatabaseError(
            f"the database at {engine.url!r} is at revision {current}, newer than this "
            f"nbcohort (head {head}). Upgrade nbcohort, or point db_url at another database."
        )
    raise DatabaseError(
        f"the database at {engine.url!r} is at revision {current}, older than this nbcohort "
        f"(head {head}). Back it up, then run 'nbcohort upgrade-db'."
    )
