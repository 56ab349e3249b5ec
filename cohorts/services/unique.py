"""Insert a row that must be unique, safely when two members do the same thing at once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

__all__ = ["add_unique", "insert_if_absent", "insert_or_advance"]

T = TypeVar("T")


def add_unique(session: Session, obj: T, find: Callable[[], T | None]) -> tuple[T, bool]:
    """Add ``obj`` unless ``find()`` returns the existing row; returns (row, created).

    On SQLite writers queue, so the check suffices; on PostgreSQL a concurrent transaction
    may insert the same key between check and insert: the savepoint turns that into
    "it exists" instead of an error for the member.
    """
    existing = find()
    if existing is not None:
        return existing, False
    if session.get_bind().dialect.name == "sqlite":  # one writer at a time: no race
        session.add(obj)
        return obj, True
    try:
        with session.begin_nested():
            session.add(obj)
    except IntegrityError:
        existing = find()
        if existing is None:
            raise
        return existing, False
    return obj, True


def insert_if_absent(session: Session, table: Table, values: Mapping[str, object]) -> bool:
    """Insert a row unless one with the same unique key exists; True if it was inserted.

    One statement on both databases (INSERT .. ON CONFLICT DO NOTHING) where ``add_unique``
    takes two, or four on PostgreSQL (look, savepoint, insert, release). A concurrent insert
    of the same key waits for the first and then inserts nothing. For rows whose object the
    caller does not need.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(values).on_conflict_do_nothing()
    # Asked by RETURNING: rowcount is not reliable once SQLAlchemy returns the key itself.
    key = statement.returning(*table.primary_key.columns)
    return session.connection().execute(key).first() is not None


def insert_or_advance(
    session: Session, table: Table, values: Mapping[str, object], key: list[str], by: str
) -> bool:
    """Insert the row, or update the one with the same ``key`` columns to ``values`` when
    its ``by`` column is lower than the new one (a mark that only moves forward). True if a
    row was inserted or moved; one statement on both databases (an upsert)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=key,
        set_={name: statement.excluded[name] for name in values if name not in key},
        where=table.c[by] < statement.excluded[by],
    )
    key_columns = statement.returning(*table.primary_key.columns)
    return session.connection().execute(key_columns).first() is not None
