"""The cohort's tables and its activity log as pandas frames, read in a few statements.

Times arrive as seconds since the epoch, computed by the database from what it stores: a
row written by hand with an offset (``2026-03-02 10:00:00+02:00``) or a ``Z`` lands on the
same instant as the store's own UTC. Rows whose time the database cannot read are left out.
The large reads (the log's reads and reactions, the posts) skip SQLAlchemy's row objects:
at half a million events those cost more than the metrics themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort

__all__ = ["REACT", "READ", "Frames", "load_frames"]

READ, REACT = 0, 1  # kinds of touch: a thread read, a reaction


@dataclass
class Frames:
    """Everything the metrics read about one cohort. Times: float seconds since the epoch
    (NaN: none). Member ids are ints; ``members`` is indexed by id."""

    tz: str
    start: float  # the cohort's start: its first day at 00:00 local, or its creation
    members: pd.DataFrame  # role, joined, left (NaN: still a member)
    touches: pd.DataFrame  # member_id, kind (READ/REACT), at
    posts: pd.DataFrame  # id, author_id, parent_id (0: top level), at, deleted, prompt (key/"")
    reviews: pd.DataFrame  # reviewer_id, kind, status, due, submitted, helpfulness, rated_at
    artifacts: pd.DataFrame  # id, author_id, at
    reuses: pd.DataFrame  # artifact_id, member_id, at
    practices: pd.DataFrame  # key, title, synced
    applied: pd.DataFrame  # member_id, practice, at
    prompts: pd.DataFrame  # key, opens
    onboarding: pd.DataFrame  # member_id, step, state, at


# Each statement binds :cohort_id; EPOCH(x) is the column's time in seconds since the epoch.
_SQL = {
    "members": "SELECT id, role, CAST(active AS INTEGER), EPOCH(joined_at), EPOCH(updated_at) "
    "FROM member WHERE cohort_id = :cohort_id",
    "logged": "SELECT verb, object_id, min(EPOCH(at)), max(EPOCH(at)) FROM activity "
    "WHERE cohort_id = :cohort_id AND verb IN ('practice.sync', 'prompt.sync', 'review.rate', "
    "'member.deactivate') GROUP BY verb, object_id",
    "touches": f"SELECT member_id, CASE WHEN verb = 'thread.read' THEN {READ} ELSE {REACT} END, "
    "EPOCH(at) FROM activity WHERE cohort_id = :cohort_id "
    "AND verb IN ('thread.read', 'post.react') AND member_id IS NOT NULL",
    "posts": "SELECT p.id, p.author_id, COALESCE(p.parent_id, 0), EPOCH(p.created_at), "
    "CAST(p.deleted AS INTEGER), CASE WHEN t.kind = 'prompt' THEN t.anchor ELSE '' END "
    "FROM post p JOIN thread t ON t.id = p.thread_id WHERE t.cohort_id = :cohort_id",
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
    "logged": ["verb", "object_id", "first", "last"],
    "touches": ["member_id", "kind", "at"],
    "posts": ["id", "author_id", "parent_id", "at", "deleted", "prompt"],
    "reviews": ["reviewer_id", "kind", "status", "due", "submitted", "helpfulness", "review_id"],
    "artifacts": ["id", "author_id", "at"],
    "reuses": ["artifact_id", "member_id", "at"],
    "practices": ["id", "key", "title"],
    "applied": ["member_id", "practice", "at"],
    "prompts": ["id", "key", "opens"],
    "onboarding": ["member_id", "step", "state", "at"],
}
_TIMES = {"joined", "updated", "first", "last", "at", "due", "submitted", "opens"}
_FLOATS = {*_TIMES, "helpfulness"}
_EPOCH = re.compile(r"EPOCH\(((?:[^()]|\([^()]*\))*)\)")


def _statement(name: str, dialect: str) -> str:
    if dialect == "sqlite":
        return _EPOCH.sub(r"((julianday(\1) - 2440587.5) * 86400.0)", _SQL[name])
    return _EPOCH.sub(r"(extract(epoch from \1)::float8)", _SQL[name])


def _read(conn: Connection, name: str, cohort_id: int) -> pd.DataFrame:
    """Table ``name`` of the cohort as a frame, from the driver's plain tuples."""
    result = conn.execute(text(_statement(name, conn.dialect.name)), {"cohort_id": cohort_id})
    try:
        rows = list(result.cursor.fetchall()) if result.cursor is not None else []
    finally:
        result.close()
    columns = _COLUMNS[name]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    frame = pd.DataFrame.from_records(rows, columns=columns)
    for column in _FLOATS.intersection(columns):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in _TIMES.intersection(columns):  # julianday's float is off by microseconds
        frame[column] = frame[column].round(3)
    return frame


def _start(cohort: Cohort) -> float:
    if cohort.starts_on is None:
        return _created(cohort)
    zone = _zone(cohort.timezone)
    return datetime.combine(cohort.starts_on, time(0), tzinfo=zone).timestamp()


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def load_frames(session: Session, cohort: Cohort) -> Frames:
    """Read the cohort's tables and log (one unit of work: the caller's ``session``)."""
    conn = session.connection()
    got = {name: _read(conn, name, cohort.id) for name in _SQL}
    logged = got["logged"]
    posts = got["posts"]
    posts["prompt"] = posts["prompt"].fillna("").astype(str).str.removeprefix("prompt/")
    return Frames(
        tz=cohort.timezone or "UTC",
        start=_start(cohort),
        members=_membership(got["members"], logged),
        touches=got["touches"].dropna(subset=["at"]),
        posts=posts.dropna(subset=["at"]),
        reviews=_rated(got["reviews"], logged),
        artifacts=got["artifacts"].dropna(subset=["at"]),
        reuses=got["reuses"].dropna(subset=["at"]),
        practices=_synced(got["practices"], logged, _created(cohort)),
        applied=got["applied"].dropna(subset=["at"]),
        prompts=_opened(got["prompts"], logged),
        onboarding=got["onboarding"],
    )


def _created(cohort: Cohort) -> float:
    created = cohort.created_at
    return (created if created.tzinfo else created.replace(tzinfo=UTC)).timestamp()


def _of(logged: pd.DataFrame, verb: str, column: str) -> pd.Series:
    rows = logged[logged["verb"] == verb]
    return pd.Series(
        pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype="float64"),
        index=rows["object_id"].astype("int64").to_numpy(),
    )


def _membership(members: pd.DataFrame, logged: pd.DataFrame) -> pd.DataFrame:
    """Members with when they left: the last logged deactivation of a member who is inactive
    now (else their row's last change); NaN for a member who is still one."""
    members = members.dropna(subset=["joined"]).astype({"id": "int64"}).set_index("id")
    left = _of(logged, "member.deactivate", "last").reindex(members.index)
    inactive = members["active"].astype(int) == 0
    members["left"] = np.where(inactive, left.fillna(members["updated"]), np.nan)
    members["role"] = members["role"].astype(str)
    return members[["role", "joined", "left"]]


def _rated(reviews: pd.DataFrame, logged: pd.DataFrame) -> pd.DataFrame:
    """Reviews with when their author last rated them (logged; else when submitted)."""
    rated = _of(logged, "review.rate", "last")
    ids = pd.to_numeric(reviews["review_id"], errors="coerce")
    reviews["rated_at"] = ids.map(rated).where(reviews["helpfulness"].notna())
    reviews["rated_at"] = reviews["rated_at"].fillna(
        reviews["submitted"].where(reviews["helpfulness"].notna())
    )
    return reviews


def _synced(practices: pd.DataFrame, logged: pd.DataFrame, created: float) -> pd.DataFrame:
    """Practices with when they came into the cohort (logged; else the cohort's creation)."""
    synced = _of(logged, "practice.sync", "first")
    ids = pd.to_numeric(practices["id"], errors="coerce")
    practices["synced"] = ids.map(synced).fillna(created).astype("float64")
    return practices


def _opened(prompts: pd.DataFrame, logged: pd.DataFrame) -> pd.DataFrame:
    """Prompts with when they opened: their own date, else when they came into the cohort."""
    synced = _of(logged, "prompt.sync", "first")
    ids = pd.to_numeric(prompts["id"], errors="coerce")
    opens = pd.to_numeric(prompts["opens"], errors="coerce")
    prompts["opens"] = opens.fillna(ids.map(synced)).astype("float64")
    return prompts
