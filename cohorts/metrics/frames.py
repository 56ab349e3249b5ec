"""The cohort's tables and its activity log as pandas frames, read in a few statements.

Times arrive as seconds since the epoch, computed by the database from what it stores
(``sql.py``); rows whose time the database cannot read are left out. The log arrives counted
by the database for the spans the metrics read (``log.py``): that is why the frames are read
for one ``now`` and window. The posts skip SQLAlchemy's row objects, straight into numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from nbcohort.cohorts.metrics.log import (
    LEFT,
    PRACTICE_SYNC,
    PROMPT_SYNC,
    RATED,
    REACT,
    READ,
    Touches,
    read_log,
)
from nbcohort.cohorts.metrics.sql import statement
from nbcohort.cohorts.metrics.weeks import span_bounds, zone
from nbcohort.cohorts.models import Cohort

__all__ = ["REACT", "READ", "Frames", "load_frames"]


@dataclass
class Frames:
    """Everything the metrics read about one cohort. Times: float seconds since the epoch
    (NaN: none). Member ids are ints; ``members`` is indexed by id."""

    tz: str
    start: float  # the cohort's start: its first day at 00:00 local, or its creation
    members: pd.DataFrame  # role, joined, left (NaN: still a member)
    touches: Touches  # who read, who reacted, per span of the window and weeks
    posts: pd.DataFrame  # id, author_id, parent_id (0: top level), at, deleted, prompt (key/"")
    reviews: pd.DataFrame  # reviewer_id, kind, status, due, submitted, helpfulness, rated_at
    artifacts: pd.DataFrame  # id, author_id, at
    reuses: pd.DataFrame  # artifact_id, member_id, at
    practices: pd.DataFrame  # key, title, synced
    applied: pd.DataFrame  # member_id, practice, at
    prompts: pd.DataFrame  # key, opens
    onboarding: pd.DataFrame  # member_id, step, state, at


# Each statement binds :cohort_id; the macros are sql.py's.
_SQL = {
    "members": "SELECT id, role, CAST(active AS INTEGER), EPOCH(joined_at), EPOCH(updated_at) "
    "FROM member WHERE cohort_id = :cohort_id",
    # +thread_id: SQLite reads the post table in order rather than thread by thread
    "posts": "SELECT NUM(id), NUM(author_id), NUM(COALESCE(parent_id, 0)), "
    "NUM(EPOCH(created_at)), NUM(CAST(deleted AS INTEGER)), NUM(thread_id) FROM post "
    "WHERE +thread_id IN (SELECT id FROM thread WHERE cohort_id = :cohort_id)",
    "prompt_threads": "SELECT id, anchor FROM thread "
    "WHERE cohort_id = :cohort_id AND kind = 'prompt'",
    "reviews": "SELECT a.reviewer_id, a.kind, a.status, EPOCH(COALESCE(a.due_at, r.due_at)), "
    "CASE WHEN v.draft THEN NULL ELSE EPOCH(v.submitted_at) END, v.helpfulness, v.id "
    "FROM allocation a JOIN review_round r ON r.id = a.round_id "
    "LEFT JOIN review v ON v.allocation_id = a.id WHERE r.cohort_id = :cohort_id",
    "artifacts": "SELECT id, author_id, EPOCH(created_at) FROM artifact "
    "WHERE cohort_id = :cohort_id",
    "reuses": "SELECT u.artifact_id, u.member_id, EPOCH(u.created_at) FROM artifact_reuse u "
    "JOIN artifact a ON a.id = u.artifact_id WHERE a.cohort_id = :cohort_id",
    "practices": "SELECT id, key, title FROM practice WHERE cohort_id = :cohort_id",
    "applied": "SELECT member_id, practice, EPOCH(created_at) FROM applied_practice "
    "WHERE cohort_id = :cohort_id",
    "prompts": "SELECT id, key, EPOCH(opens_at) FROM prompt WHERE cohort_id = :cohort_id",
    "onboarding": "SELECT o.member_id, o.step, o.state, EPOCH(o.at) FROM onboarding_step o "
    "JOIN member m ON m.id = o.member_id WHERE m.cohort_id = :cohort_id",
}
_COLUMNS = {
    "members": ["id", "role", "active", "joined", "updated"],
    "posts": ["id", "author_id", "parent_id", "at", "deleted", "thread_id"],
    "prompt_threads": ["id", "anchor"],
    "reviews": ["reviewer_id", "kind", "status", "due", "submitted", "helpfulness", "review_id"],
    "artifacts": ["id", "author_id", "at"],
    "reuses": ["artifact_id", "member_id", "at"],
    "practices": ["id", "key", "title"],
    "applied": ["member_id", "practice", "at"],
    "prompts": ["id", "key", "opens"],
    "onboarding": ["member_id", "step", "state", "at"],
}
_NUMERIC = {"posts"}  # large and all numbers: read straight into numpy
_CHUNK = 65_536
_NAN = float("nan")
_TIMES = {"joined", "updated", "at", "due", "submitted", "opens"}
_FLOATS = {*_TIMES, "helpfulness"}


def _read(conn: Connection, name: str, cohort_id: int) -> pd.DataFrame:
    """Table ``name`` of the cohort as a frame, from the driver's plain tuples (the large,
    all-numeric ones a chunk at a time, straight into numpy: NULL becomes NaN)."""
    columns = _COLUMNS[name]
    result = conn.execute(text(statement(_SQL[name], conn.dialect.name)), {"cohort_id": cohort_id})
    cursor = result.cursor
    try:
        if name in _NUMERIC:
            chunks = []
            while cursor is not None and (rows := cursor.fetchmany(_CHUNK)):
                chunks.append(_numbers(rows, len(columns)))
            data = np.concatenate(chunks) if chunks else np.empty(0)
            return _times(pd.DataFrame(data.reshape(-1, len(columns)), columns=columns))
        rows = list(cursor.fetchall()) if cursor is not None else []
    finally:
        result.close()
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    frame = pd.DataFrame.from_records(rows, columns=columns)
    return _times(frame)


def _numbers(rows: Sequence[Any], width: int) -> np.ndarray:
    """Rows of numbers, flat, as float64 (NULL: NaN)."""
    try:
        return np.fromiter(chain.from_iterable(rows), "float64", len(rows) * width)
    except TypeError:  # a NULL: the slow way, for this chunk only
        return np.array([[_NAN if v is None else v for v in r] for r in rows], "float64").ravel()


def _times(frame: pd.DataFrame) -> pd.DataFrame:
    columns = list(frame.columns)
    for column in _FLOATS.intersection(columns):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in _TIMES.intersection(columns):  # julianday's float is off by microseconds
        frame[column] = frame[column].round(3)
    return frame


def _start(cohort: Cohort) -> float:
    if cohort.starts_on is None:
        return _created(cohort)
    return datetime.combine(cohort.starts_on, time(0), tzinfo=zone(cohort.timezone)).timestamp()


def load_frames(session: Session, cohort: Cohort, *, now: float, days: int) -> Frames:
    """Read the cohort's tables and log for the metrics over the ``days`` before ``now``
    (seconds since the epoch): ``compute_metrics`` takes the same two (one unit of work:
    the caller's ``session``)."""
    conn = session.connection()
    tz, start = cohort.timezone or "UTC", _start(cohort)
    touches, logged = read_log(conn, cohort.id, span_bounds(tz, start, now, days))
    got = {name: _read(conn, name, cohort.id) for name in _SQL}
    return Frames(
        tz=tz,
        start=start,
        members=_membership(got["members"], logged),
        touches=touches,
        posts=_posts(got["posts"], got["prompt_threads"]),
        reviews=_rated(got["reviews"], logged),
        artifacts=got["artifacts"].dropna(subset=["at"]),
        reuses=got["reuses"].dropna(subset=["at"]),
        practices=_synced(got["practices"], logged, _created(cohort)),
        applied=got["applied"].dropna(subset=["at"]),
        prompts=_opened(got["prompts"], logged),
        onboarding=got["onboarding"],
    )


def _posts(posts: pd.DataFrame, prompt_threads: pd.DataFrame) -> pd.DataFrame:
    """Posts with ``prompt``: the key of the micro-prompt a post answers, or ''."""
    posts = posts.dropna(subset=["at"])
    posts = posts.astype({c: "int64" for c in ("id", "author_id", "parent_id", "thread_id")})
    keys = {
        int(t): str(anchor).removeprefix("prompt/")
        for t, anchor in zip(prompt_threads["id"], prompt_threads["anchor"], strict=True)
    }
    posts["prompt"] = [keys.get(t, "") for t in posts["thread_id"].tolist()]
    return posts


def _created(cohort: Cohort) -> float:
    created = cohort.created_at
    return (created if created.tzinfo else created.replace(tzinfo=UTC)).timestamp()


def _of(logged: pd.DataFrame, kind: int, column: str) -> pd.Series:
    """The first ("min") or last ("max") logged time of ``kind`` per object id."""
    if kind not in logged.index.get_level_values("kind"):
        return pd.Series(dtype="float64")
    times = logged.xs(kind, level="kind")[column]
    return pd.Series(times.to_numpy(dtype="float64"), index=times.index.astype("int64"))


def _membership(members: pd.DataFrame, logged: pd.DataFrame) -> pd.DataFrame:
    """Members with when they left: the last logged deactivation of a member who is inactive
    now (else their row's last change); NaN for a member who is still one."""
    members = members.dropna(subset=["joined"]).astype({"id": "int64"}).set_index("id")
    left = _of(logged, LEFT, "max").reindex(members.index)
    inactive = members["active"].astype(int) == 0
    members["left"] = np.where(inactive, left.fillna(members["updated"]), np.nan)
    members["role"] = members["role"].astype(str)
    return members[["role", "joined", "left"]]


def _rated(reviews: pd.DataFrame, logged: pd.DataFrame) -> pd.DataFrame:
    """Reviews with when their author last rated them (logged; else when submitted)."""
    rated = _of(logged, RATED, "max")
    ids = pd.to_numeric(reviews["review_id"], errors="coerce")
    reviews["rated_at"] = ids.map(rated).where(reviews["helpfulness"].notna())
    reviews["rated_at"] = reviews["rated_at"].fillna(
        reviews["submitted"].where(reviews["helpfulness"].notna())
    )
    return reviews


def _synced(practices: pd.DataFrame, logged: pd.DataFrame, created: float) -> pd.DataFrame:
    """Practices with when they came into the cohort (logged; else the cohort's creation)."""
    synced = _of(logged, PRACTICE_SYNC, "min")
    ids = pd.to_numeric(practices["id"], errors="coerce")
    practices["synced"] = ids.map(synced).fillna(created).astype("float64")
    return practices


def _opened(prompts: pd.DataFrame, logged: pd.DataFrame) -> pd.DataFrame:
    """Prompts with when they opened: their own date, else when they came into the cohort."""
    synced = _of(logged, PROMPT_SYNC, "min")
    ids = pd.to_numeric(prompts["id"], errors="coerce")
    opens = pd.to_numeric(prompts["opens"], errors="coerce")
    prompts["opens"] = opens.fillna(ids.map(synced)).astype("float64")
    return prompts
