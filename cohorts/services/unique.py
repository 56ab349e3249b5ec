"""Insert a row that must be unique, safely when two members do the same thing at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

__all__ = ["add_unique"]

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
