"""The activity log as the metrics read it, counted by the database.

Reads and reactions are most of a live community's log (~450,000 of 500,000 events in the
benchmark), and the metrics need of them only who read and who reacted in each span of time
(the contributor funnel: the window and each week, between two of ``weeks.span_bounds``).
Moving every row into Python, or having the database group them, cost more than all the
metrics together (tests/bench/README.md). So the database answers one question per member,
kind and span, "is there a row?", each a seek in the index on (cohort, verb, member, time)
(migration ``0020_metric_rollup``): a request reads members x spans, not events.

Times are compared as the metrics read every time, to the millisecond (``sql.py``'s ``TIME``):
a span's ends become the first microsecond that rounds into it. PostgreSQL stores instants.
SQLite stores the store's own times as UTC text of one fixed shape, which sorts as the times
do; a row written in another shape (an offset, a ``T``, no microseconds) is read one by one,
through julianday, and a time it cannot read is left out. Rows of the other kinds (a
practice's sync, a review's rating...) come as the first and last time per object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from nbcohort.cohorts.metrics.sql import statement
from nbcohort.cohorts.metrics.weeks import iso

__all__ = ["LEFT", "PRACTICE_SYNC", "PROMPT_SYNC", "RATED", "REACT", "READ", "Touches", "read_log"]

# What the log says, by kind of row.
READ, REACT, PRACTICE_SYNC, PROMPT_SYNC, RATED, LEFT = range(6)
_TOUCHED = {"thread.read": READ, "post.react": REACT}
_OTHER = {
    "practice.sync": PRACTICE_SYNC,
    "prompt.sync": PROMPT_SYNC,
    "review.rate": RATED,
    "member.deactivate": LEFT,
}
_EPOCH0 = datetime(1970, 1, 1, tzinfo=UTC)
_SQLITE_TEXT = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's form of the store's times on SQLite


def _kind(verbs: dict[str, int]) -> str:
    return "CASE verb " + " ".join(f"WHEN '{v}' THEN {k}" for v, k in verbs.items()) + " END"


def _in(verbs: dict[str, int]) -> str:
    return "verb IN (" + ", ".join(f"'{v}'" for v in verbs) + ")"


# Per member of the cohort, kind and span k: whether the log has a row in it.
_REACHED = {
    "sqlite": "WITH verbs(verb, kind) AS (VALUES {verbs}), spans(k, lo, hi) AS (VALUES {spans}) "
    "SELECT m.id, verbs.kind, spans.k FROM member m, verbs, spans "
    "WHERE m.cohort_id = :cohort_id AND EXISTS (SELECT 1 FROM activity a "
    "WHERE a.cohort_id = :cohort_id AND a.verb = verbs.verb AND a.member_id = m.id "
    "AND a.at >= spans.lo AND a.at < spans.hi AND {shaped})",
    "postgresql": "SELECT m.id, v.kind, s.k FROM member m "
    "CROSS JOIN unnest(CAST(:verbs AS text[]), CAST(:kinds AS int[])) AS v(verb, kind) "
    "CROSS JOIN unnest(CAST(:lo AS timestamptz[]), CAST(:hi AS timestamptz[])) "
    "WITH ORDINALITY AS s(lo, hi, k) "
    "WHERE m.cohort_id = :cohort_id AND EXISTS (SELECT 1 FROM activity a "
    "WHERE a.cohort_id = :cohort_id AND a.verb = v.verb AND a.member_id = m.id "
    "AND a.at >= s.lo AND a.at < s.hi)",
}
# SQLite: a time in the store's own shape (YYYY-MM-DD HH:MM:SS.ffffff, UTC) sorts as the
# times do; the reads and reactions in any other shape are read one by one.
_SHAPED = "{at} LIKE '____-__-__ __:__:__.______'"
_ODD = (
    f"SELECT member_id, {_kind(_TOUCHED)}, TIME(at) FROM activity "
    f"WHERE cohort_id = :cohort_id AND {_in(_TOUCHED)} AND NOT ({_SHAPED.format(at='at')}) "
    "AND member_id IN (SELECT id FROM member WHERE cohort_id = :cohort_id)"
)
_LOGGED = (
    f"SELECT {_kind(_OTHER)} AS kind, COALESCE(object_id, 0) AS object_id, min(TIME(at)), "
    f"max(TIME(at)) FROM activity WHERE cohort_id = :cohort_id AND {_in(_OTHER)} "
    "GROUP BY kind, COALESCE(object_id, 0)"
)


def _first_instant(bound: float) -> datetime:
    """The first microsecond whose time to the millisecond (half up) is ``bound`` or later."""
    ms = math.ceil(bound * 1000)
    if (ms - 1) / 1000 >= bound:  # the product's rounding
        ms -= 1
    return _EPOCH0 + timedelta(microseconds=ms * 1000 - 500)


@dataclass(frozen=True)
class Touches:
    """Who read a thread (``READ``) and who reacted to a post (``REACT``) in each span
    between two of ``bounds``, among the cohort's members: one row per member, kind and
    span. Reads never leave as anything but these sets (the metrics count them)."""

    bounds: np.ndarray  # sorted instants
    member_id: np.ndarray
    kind: np.ndarray
    span: np.ndarray  # k: in [bounds[k-1], bounds[k])

    def who(self, kind: int, start: float, end: float) -> np.ndarray:
        """Ids of the members with a row of ``kind`` in [start, end), each once; ``start``
        and ``end`` must be bounds the log was read for."""
        first, last = self._bound(start), self._bound(end)
        keep = (self.kind == kind) & (self.span > first) & (self.span <= last)
        return np.unique(self.member_id[keep])

    def __len__(self) -> int:
        return len(self.member_id)

    def _bound(self, at: float) -> int:
        k = int(np.searchsorted(self.bounds, at))
        if k == len(self.bounds) or self.bounds[k] != at:
            raise ValueError(
                f"the log was read for other spans of time ({iso(at)} is none of their ends): "
                "read the frames with the now and days the metrics are computed for"
            )
        return k


def _reached(conn: Connection, cohort_id: int, bounds: np.ndarray) -> list[tuple[int, ...]]:
    """(member, kind, span) for each span of ``bounds`` where the member has a row."""
    starts = [_first_instant(float(b)) for b in bounds]
    params: dict[str, Any] = {"cohort_id": cohort_id}
    if conn.dialect.name == "postgresql":
        params.update(
            verbs=list(_TOUCHED), kinds=list(_TOUCHED.values()), lo=starts[:-1], hi=starts[1:]
        )
        return [tuple(r) for r in conn.execute(text(_REACHED["postgresql"]), params)]
    verbs = ", ".join(f"('{v}', {k})" for v, k in _TOUCHED.items())
    spans = ", ".join(f"({k}, :lo{k}, :hi{k})" for k in range(1, len(bounds)))
    for k in range(1, len(bounds)):
        params[f"lo{k}"] = starts[k - 1].strftime(_SQLITE_TEXT)
        params[f"hi{k}"] = starts[k].strftime(_SQLITE_TEXT)
    sql = _REACHED["sqlite"].format(verbs=verbs, spans=spans, shaped=_SHAPED.format(at="a.at"))
    rows = [tuple(r) for r in conn.execute(text(sql), params)]
    odd = conn.execute(text(statement(_ODD, "sqlite")), {"cohort_id": cohort_id}).all()
    if odd:
        at = np.array([t for _, _, t in odd], dtype="float64")
        span = np.searchsorted(bounds, at, side="right")  # NaN: past the last bound
        rows += [
            (m, k, int(s)) for (m, k, _), s in zip(odd, span, strict=True) if 0 < s < len(bounds)
        ]
    return rows


def read_log(conn: Connection, cohort_id: int, bounds: np.ndarray) -> tuple[Touches, pd.DataFrame]:
    """The reads and reactions of the cohort's members per span of ``bounds`` (sorted, at
    least two), and (indexed by kind and object id) the ``min`` and ``max`` time of each
    other kind of row per object."""
    bounds = np.asarray(bounds, dtype="float64")
    found = _reached(conn, cohort_id, bounds)
    flat = chain.from_iterable(found)  # plain tuples: numpy is slow on Row objects
    reached = np.fromiter(flat, "int64", 3 * len(found)).reshape(-1, 3)
    reached = np.unique(reached, axis=0)
    touches = Touches(bounds, reached[:, 0], reached[:, 1], reached[:, 2])
    rows = conn.execute(text(statement(_LOGGED, conn.dialect.name)), {"cohort_id": cohort_id})
    got = pd.DataFrame.from_records(
        list(rows.all()), columns=["kind", "object_id", "min", "max"], coerce_float=True
    )
    got = got.dropna(subset=["min"]).astype({"kind": "int64", "object_id": "int64"})
    logged = got.set_index(["kind", "object_id"])[["min", "max"]].astype("float64")
    return touches, logged
