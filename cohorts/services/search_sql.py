"""The statements behind search, one set per database (the index is migration 0009's).

Each kind (posts, threads, artifacts) is searched on its own. A statement takes the matches
newest first, at most ``candidates`` of them, and orders those by relevance (SQLite's bm25,
PostgreSQL's ts_rank; ``score``: lower is better on both): a word that is in every other post
costs ``candidates`` rows, not the whole table, and a rarer one is ranked over all its
matches. The viewer's filter (``services/search.py``) is part of the inner statement, so what
a viewer may not see never takes a candidate's place.

The words are always bound, never written into the statement by hand. On PostgreSQL they are
rendered as a quoted literal by the driver's rules (``literal_execute``): the planner then
sees the words it matches, and plans a rare word (index) and a common one (newest posts
first) each as it should; a bound parameter let a cached generic plan read every match.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import JSON, BindParameter, Boolean, Integer, String, TextualSelect, bindparam, text

from nbcohort.cohorts.models import UTCDateTime

__all__ = ["Kind", "statement"]

Kind = Literal["post", "thread", "artifact"]

# Viewer filters: staff see hidden posts and every prompt's thread; others see no hidden
# post and none of the prompt threads in ``:denied`` (``search._PromptAccess`` decides which,
# from what a first run finds). ``:me`` is the viewer's member id (-1 for none).
_POST_FILTER = (
    "AND NOT p.hidden AND (t.kind <> 'prompt' OR p.author_id = :me OR t.anchor NOT IN :denied)"
)
_THREAD_FILTER = "AND (t.kind <> 'prompt' OR t.anchor NOT IN :denied)"

_SQLITE_MATCH = {
    "post": (
        "search_post JOIN post p ON p.id = search_post.rowid JOIN thread t ON t.id = p.thread_id",
        "search_post MATCH :match",
        "bm25(search_post)",
        "search_post.rowid",
    ),
    "thread": (
        "search_thread JOIN thread t ON t.id = search_thread.rowid",
        "search_thread MATCH :match",
        "bm25(search_thread, 4.0, 1.0)",
        "search_thread.rowid",
    ),
    "artifact": (
        "search_artifact JOIN artifact a ON a.id = search_artifact.rowid",
        "search_artifact MATCH :match",
        "bm25(search_artifact, 4.0, 2.0, 2.0, 1.0)",
        "search_artifact.rowid",
    ),
}
_QUERY = "plainto_tsquery('simple', :words)"
_PG_MATCH = {
    "post": (
        "post p JOIN thread t ON t.id = p.thread_id",
        f"p.search_terms @@ {_QUERY}",
        f"-ts_rank(p.search_terms, {_QUERY})",
        "p.id",
    ),
    "thread": (
        "thread t",
        f"t.search_terms @@ {_QUERY}",
        f"-ts_rank(t.search_terms, {_QUERY})",
        "t.id",
    ),
    "artifact": (
        "artifact a",
        f"a.search_terms @@ {_QUERY}",
        f"-ts_rank(a.search_terms, {_QUERY})",
        "a.id",
    ),
}
_WHERE = {
    "post": "t.cohort_id = :cohort_id AND NOT p.deleted",
    "thread": "t.cohort_id = :cohort_id",
    "artifact": "a.cohort_id = :cohort_id",
}
_ID = {"post": "p.id", "thread": "t.id", "artifact": "a.id"}
_SHOW = {
    "post": (
        "SELECT p.id, p.thread_id, p.parent_id, p.body_html, p.created_at, p.hidden, "
        "t.anchor, t.title, t.kind, m.id AS author_id, m.username, m.name, m.role, m.team, "
        "m.timezone, m.left_at, c.score FROM candidates c JOIN post p ON p.id = c.id "
        "JOIN thread t ON t.id = p.thread_id JOIN member m ON m.id = p.author_id"
    ),
    "thread": (
        "SELECT t.id, t.anchor, t.title, t.kind, t.created_at, c.score "
        "FROM candidates c JOIN thread t ON t.id = c.id"
    ),
    "artifact": (
        "SELECT a.id, a.title, a.description, a.tags, a.license, a.filename, a.size, "
        "a.created_at, m.id AS author_id, m.username, m.name, m.role, m.team, m.timezone, "
        "m.left_at, c.score FROM candidates c JOIN artifact a ON a.id = c.id "
        "JOIN member m ON m.id = a.author_id"
    ),
}
_TYPES: dict[str, dict[str, Any]] = {
    "post": {"created_at": UTCDateTime(), "hidden": Boolean()},
    "thread": {"created_at": UTCDateTime()},
    "artifact": {"created_at": UTCDateTime(), "tags": JSON()},
}


def statement(dialect: str, kind: Kind, *, staff: bool) -> TextualSelect:
    """The search statement for ``kind`` on ``dialect`` (``sqlite`` or ``postgresql``), with
    the viewer filter unless ``staff``. Binds: cohort_id, candidates, limit, and ``match``
    (SQLite) or ``words`` (PostgreSQL); ``denied`` (and ``me`` for posts) for others."""
    source, match, score, newest = (_SQLITE_MATCH if dialect == "sqlite" else _PG_MATCH)[kind]
    viewer = ""
    if not staff and kind == "post":
        viewer = _POST_FILTER
    elif not staff and kind == "thread":
        viewer = _THREAD_FILTER
    sql = (
        f"WITH candidates AS (SELECT ranked.id, ranked.score FROM ("
        f"SELECT {_ID[kind]} AS id, {score} AS score FROM {source} "
        f"WHERE {match} AND {_WHERE[kind]} {viewer} "
        f"ORDER BY {newest} DESC LIMIT :candidates) ranked "
        f"ORDER BY ranked.score, ranked.id DESC LIMIT :limit) "
        f"{_SHOW[kind]} ORDER BY c.score, c.id DESC"
    )
    params: list[BindParameter[Any]] = [
        bindparam(name, type_=Integer()) for name in ("cohort_id", "candidates", "limit")
    ]
    if dialect == "sqlite":
        params.append(bindparam("match", type_=String()))
    else:
        params.append(bindparam("words", type_=String(), literal_execute=True))
    if viewer and kind == "post":
        params.append(bindparam("me", type_=Integer()))
    if viewer:
        params.append(bindparam("denied", type_=String(), expanding=True))
    return text(sql).bindparams(*params).columns(**_TYPES[kind])
