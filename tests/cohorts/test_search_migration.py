"""Migration 0009 (search) on both databases: it indexes what is already there, and goes down
leaving every row and nothing of the index."""

from __future__ import annotations

from sqlalchemy import inspect, text

from nbcohort.cohorts.models import SEARCHED_TABLES, Cohort, Member
from nbcohort.cohorts.schema import current_revision, downgrade_db, head_revision, upgrade_db
from nbcohort.cohorts.services import posts, search
from nbcohort.cohorts.services.artifacts import share_artifact
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.store import Store


def _index_objects(store: Store) -> set[str]:
    """What of the search index the database holds: tables, triggers, columns, indexes."""
    found = set()
    with store.engine.connect() as conn:
        if store.is_sqlite:
            rows = conn.execute(
                text("SELECT name FROM sqlite_master WHERE name LIKE 'search%'")
            ).scalars()
            found.update(rows)
        else:
            inspector = inspect(conn)
            for table in SEARCHED_TABLES:
                found.update(
                    f"{table}.{c['name']}"
                    for c in inspector.get_columns(table)
                    if c["name"] == "search_terms"
                )
                found.update(
                    i["name"] for i in inspector.get_indexes(table) if "search" in i["name"]
                )
    return found


def test_0009_indexes_existing_rows_and_goes_down_cleanly(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    with store.write() as s:
        ana, c = Actor.of(s.merge(people["ana"])), s.merge(cohort)
        kept = posts.create_post(s, ana, c, "module-1/a", "old tapir post", title="Tapir den")
        gone = posts.create_post(s, ana, c, "module-1/a", "a deleted tapir post")
        share_artifact(s, ana, c, filename="t.py", content=b"t", title="tapir tool")
        s.flush()
        posts.delete_post(s, ana, gone.id)
        ids = kept.id, gone.id
    assert _index_objects(store)
    downgrade_db(store.engine, "0008")
    assert _index_objects(store) == set()
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM post")).scalar() == 2
    with store.engine.begin() as conn:  # written while the index did not exist
        conn.execute(
            text(
                "UPDATE post SET body_md = 'a renamed tapir post', "
                "body_html = '<p>a renamed tapir post</p>' WHERE id = :i"
            ),
            {"i": ids[0]},
        )
    upgrade_db(store.engine)
    assert current_revision(store.engine) == head_revision()
    with store.read() as s:
        found = search.search(s, Actor.of(people["ben"]), s.merge(cohort), "tapir")
    assert [p["id"] for p in found["posts"]] == [ids[0]]  # the deleted one is not indexed
    assert "renamed" in found["posts"][0]["snippet"]
    assert [t["title"] for t in found["threads"]] == ["Tapir den"]
    assert [a["title"] for a in found["artifacts"]] == ["tapir tool"]
    downgrade_db(store.engine, "0008")  # and down again with the index full
    assert _index_objects(store) == set()
    upgrade_db(store.engine)
