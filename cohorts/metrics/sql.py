"""The metrics' SQL, written once for both databases: each statement binds ``:cohort_id``
and uses three macros that ``statement`` spells for the dialect.

- ``EPOCH(x)``: the column's time in seconds since the epoch, computed by the database from
  what it stores (a row written by hand with an offset lands on the same instant as the
  store's own UTC; a time it cannot read is NULL);
- ``TIME(x)``: the same, rounded to the millisecond as the metrics read every time (SQLite's
  julianday is off by microseconds);
- ``NUM(x)``: a column of an all-numeric statement (PostgreSQL: a float8, NaN for NULL).
"""

from __future__ import annotations

import re

__all__ = ["statement"]

_TIME = re.compile(r"TIME\(((?:[^()]|\([^()]*\))*)\)")
_EPOCH = re.compile(r"EPOCH\(((?:[^()]|\([^()]*\))*)\)")
_NUM = re.compile(r"NUM\(((?:[^()]|\((?:[^()]|\([^()]*\))*\))*)\)")


def statement(sql: str, dialect: str) -> str:
    """``sql`` with its macros spelled for ``dialect`` (sqlite or postgresql)."""
    # rint(x * 1000) / 1000, as numpy rounds: PostgreSQL's round(float8) is rint; SQLite's
    # round() differs from it only at an exact half millisecond
    sql = _TIME.sub(r"(round(EPOCH(\1) * 1000.0) / 1000.0)", sql)
    if dialect == "sqlite":
        sql = _NUM.sub(r"\1", sql)
        return _EPOCH.sub(r"((julianday(\1) - 2440587.5) * 86400.0)", sql)
    sql = _NUM.sub(r"COALESCE((\1)::float8, 'NaN'::float8)", sql)
    return _EPOCH.sub(r"date_part('epoch', \1)", sql)  # float8: extract() is numeric
