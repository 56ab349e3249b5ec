"""Search: what each viewer finds, that the index follows every writer, and that a member's
words are only ever words (SQLite FTS5 and PostgreSQL full-text search alike)."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from nbcohort.cohorts.config import CommunitySettings
from nbcohort.cohorts.models import Cohort, Member, clock_at
from nbcohort.cohorts.services import posts, prompts, search
from nbcohort.cohorts.services.artifacts import share_artifact
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.errors import Invalid
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.store import Store
from tests.helpers.community import SYSTEM
from tests.helpers.processes import isolated_env

ANCHOR = "module-1/loading-data"


def find(store: Store, who: Member | Actor, cohort: Cohort, q: str, **kw: Any) -> dict[str, Any]:
    actor = who if isinstance(who, Actor) else Actor.of(who)
    with store.read() as s:
        return search.search(s, actor, s.merge(cohort), q, **kw)


def ids(found: dict[str, Any], kind: str = "posts") -> list[int]:
    return [r["id"] for r in found[kind]]


def write(store: Store, work: Any) -> Any:
    with store.write() as s:
        return work(s)


def say(store: Store, who: Member, cohort: Cohort, body: str, **kw: Any) -> int:
    return write(
        store, lambda s: posts.create_post(s, Actor.of(who), s.merge(cohort), ANCHOR, body, **kw).id
    )


# --- what is found ------------------------------------------------------------------------------


def test_finds_posts_threads_and_artifacts_with_marked_snippets(store, cohort, people):
    ana, ben = people["ana"], people["ben"]
    first = say(store, ana, cohort, "How do I **merge** two frames on a date column?")
    say(store, ben, cohort, "Use pd.merge_asof for nearest dates", parent_id=first)
    write(
        store,
        lambda s: posts.create_post(
            s, Actor.of(ben), s.merge(cohort), "topic/merge-tips", "tips", title="Merge tips"
        ),
    )
    write(
        store,
        lambda s: share_artifact(
            s, Actor.of(ana), s.merge(cohort), filename="merge_dates.py", content=b"x",
            title="Merging by date", description="A *helper* to merge frames", tags=["pandas"],
        ),
    )  # fmt: skip
    found = find(store, people["chi"], cohort, "MERGE frames")
    assert found["words"] == ["merge", "frames"]
    assert ids(found) == [first]  # the reply says merge_asof: one word, not "merge"
    snippet = found["posts"][0]["snippet"]
    assert "<mark>merge</mark>" in snippet and "<mark>frames</mark>" in snippet
    assert "**" not in snippet  # the text members see, not the Markdown source
    assert found["posts"][0]["author"]["username"] == "ana"
    assert [a["title"] for a in found["artifacts"]] == ["Merging by date"]
    assert "<mark>frames</mark>" in found["artifacts"][0]["snippet"]
    assert found["threads"] == []  # "frames" is in no thread title
    threads = find(store, people["chi"], cohort, "merge tips")["threads"]
    assert [t["anchor"] for t in threads] == ["topic/merge-tips"]
    assert threads[0]["snippet"].startswith("<mark>Merge</mark> <mark>tips</mark>")
    only = find(store, people["chi"], cohort, "merge", kinds=["artifact"])
    assert only["posts"] == [] and len(only["artifacts"]) == 1


def test_words_are_whole_words_and_punctuation_separates_them(store, cohort, people):
    said = say(store, people["ana"], cohort, "call df.groupby('team') then café-crème")
    for q in ("groupby", "team", "df groupby", "crème"):
        assert ids(find(store, people["ben"], cohort, q)) == [said], q
    assert ids(find(store, people["ben"], cohort, "group")) == []  # whole words only
    if store.is_sqlite:  # FTS5 sets accents aside; PostgreSQL's 'simple' does not
        assert ids(find(store, people["ben"], cohort, "creme")) == [said]


def test_another_cohorts_content_is_never_found(store, cohort, people):
    with store.write() as s:
        other = create_cohort(s, SYSTEM, "other", "Other")
        zed = add_member(s, SYSTEM, other, name="Zed", email="zed@x.org", username="zed")
        s.flush()
        posts.create_post(s, Actor.of(zed), other, ANCHOR, "secret zucchini plans")
        share_artifact(s, Actor.of(zed), other, filename="z.py", content=b"z", title="zucchini")
    for who in ("ana", "fay", "sam"):
        found = find(store, people[who], cohort, "zucchini")
        assert found["posts"] == found["threads"] == found["artifacts"] == [], who


def test_hidden_posts_are_found_by_staff_only_and_deleted_by_nobody(store, cohort, people):
    hidden = say(store, people["ana"], cohort, "a quokka appears")
    gone = say(store, people["ana"], cohort, "a quokka leaves")
    fay = Actor.of(people["fay"])
    write(store, lambda s: posts.moderate_post(s, fay, hidden, "hide", "off topic"))
    write(store, lambda s: posts.delete_post(s, Actor.of(people["ana"]), gone))
    assert ids(find(store, people["fay"], cohort, "quokka")) == [hidden]
    assert find(store, people["fay"], cohort, "quokka")["posts"][0]["hidden"] is True
    for who in ("ana", "ben", "chi", "sam"):  # the author too: hidden text is staff's
        assert ids(find(store, people[who], cohort, "quokka")) == [], who
    write(store, lambda s: posts.moderate_post(s, fay, hidden, "restore", "fine after all"))
    assert ids(find(store, people["ben"], cohort, "quokka")) == [hidden]


def test_prompt_answers_follow_the_prompt_rules(store, cohort, people):
    """Answers are found by their author, staff, and those who may read the prompt's answers
    (here: after answering); an unopened prompt's thread by staff only."""
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with store.write() as s:
        c = s.merge(cohort)
        c.starts_on = start.date()
        prompts.sync_prompts(s, SYSTEM, c, {"day-1": "Your walrus story?", "day-9": "walrus?"})
    with clock_at(start + timedelta(hours=1)), store.write() as s:
        answer = prompts.answer_prompt(
            s, Actor.of(people["ana"]), s.merge(cohort), "day-1", "my walrus saga"
        ).id
    with clock_at(start + timedelta(hours=2)):
        assert ids(find(store, people["ana"], cohort, "walrus saga")) == [answer]
        assert ids(find(store, people["fay"], cohort, "walrus saga")) == [answer]
        for who in ("ben", "sam"):  # not answered (a sponsor never answers)
            assert ids(find(store, people[who], cohort, "walrus saga")) == [], who
        with store.write() as s:
            prompts.answer_prompt(s, Actor.of(people["ben"]), s.merge(cohort), "day-1", "none")
        found = find(store, people["ben"], cohort, "walrus saga")
        assert ids(found) == [answer] and found["posts"][0]["prompt"] == "day-1"
        relaxed = CommunitySettings(prompt_answers_first=False)
        assert ids(find(store, people["sam"], cohort, "walrus saga", rules=relaxed)) == [answer]
        with store.write() as s:  # staff prepare an answer before day-9 opens
            early = prompts.answer_prompt(
                s, Actor.of(people["fay"]), s.merge(cohort), "day-9", "walrus example"
            ).id
        found = find(store, people["ben"], cohort, "walrus")
        assert [t["prompt"] for t in found["threads"]] == ["day-1"]
        assert early not in ids(found)
        staff = find(store, people["ivo"], cohort, "walrus")
        assert sorted(t["prompt"] for t in staff["threads"]) == ["day-1", "day-9"]
        assert early in ids(staff)


def test_answers_one_may_not_read_never_take_a_results_place(store, cohort, people):
    """The statement ranks only what the viewer may see: prompt answers ben may not read
    yet (newer, and as relevant) leave the first places to the posts he may read."""
    older = [say(store, people["chi"], cohort, f"heron number {i}") for i in range(2)]
    with store.write() as s:
        prompts.sync_prompts(s, SYSTEM, s.merge(cohort), {"herons": "Herons?"})
    for who in ("ana", "chi", "fay"):
        with store.write() as s:
            prompts.answer_prompt(
                s, Actor.of(people[who]), s.merge(cohort), "herons", "heron heron heron"
            )
    found = find(store, people["ben"], cohort, "heron", limit=2)
    assert sorted(ids(found)) == sorted(older)
    assert len(find(store, people["ana"], cohort, "heron", limit=5)["posts"]) == 5


def test_a_member_who_left_finds_nothing_through_the_service_but_their_posts_stay(
    store, cohort, people
):
    said = say(store, people["ana"], cohort, "pelican notes")
    from nbcohort.cohorts.services.members import set_active

    write(store, lambda s: set_active(s, SYSTEM, s.merge(people["ana"]), False))
    assert ids(find(store, people["ben"], cohort, "pelican")) == [said]


# --- the member's words are words ---------------------------------------------------------------

HOSTILE = [
    '"', '""', '"unbalanced', "*", "pel*", "NEAR", "NEAR(pelican notes, 2)", "-pelican",
    "pelican -notes", "pelican AND notes", "pelican OR x", "NOT pelican", "(pelican", "pelican)",
    "((()))", "{body}: pelican", "body:pelican", "^pelican", "pelican:*", "!pelican & notes",
    "pelican | notes", "'pelican'", "pelican' OR '1'='1", "pelican; DROP TABLE post; --",
    "\\", "%", "_", "pelican\x00notes", "ünïcödé", "日本語", "🦤 pelican", "\u202epelican",
]  # fmt: skip


def test_query_syntax_is_never_syntax(store, cohort, people):
    said = say(store, people["ana"], cohort, "pelican notes near the and or not")
    words = {"pelican", "notes", "near", "the", "and", "or", "not"}
    for q in HOSTILE:
        if not search.WORD.findall(q):  # nothing to search for: said so, naming q
            with pytest.raises(Invalid, match="at least one word") as info:
                find(store, people["ben"], cohort, q)
            assert info.value.field == "q"
            continue
        found = find(store, people["ben"], cohort, q)
        assert ids(found) == ([said] if set(found["words"]) <= words else []), q


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(q=st.text(max_size=60))
def test_any_text_is_a_search_or_a_422(store, cohort, people, q):
    if search.WORD.findall(unicodedata.normalize("NFKC", q)):
        find(store, people["ben"], cohort, q)
        return
    with pytest.raises(Invalid) as info:
        find(store, people["ben"], cohort, q)
    assert info.value.field == "q"


def test_long_and_empty_queries_are_refused_naming_q(store, cohort, people):
    for q in ("", "   ", "x" * 10_000, "a " * 101, "***", 12):
        with pytest.raises(Invalid) as info:
            find(store, people["ben"], cohort, q)
        assert info.value.field == "q"
    found = find(store, people["ben"], cohort, " ".join(f"w{i}" for i in range(20)))
    assert len(found["words"]) == search.MAX_WORDS and len(found["ignored_words"]) == 4


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[Any] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_endtag(self, tag: str) -> None:
        self.tags.append("/" + tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def only_marks(html: str) -> str:
    """Assert ``html`` holds no markup but balanced <mark>s; return its text."""
    parser = _Tags()
    parser.feed(html)
    parser.close()
    assert set(parser.tags) <= {"mark", "/mark"} and not parser.attrs, html
    assert parser.tags == ["mark", "/mark"] * (len(parser.tags) // 2), html
    return "".join(parser.text)


def test_hostile_text_cannot_escape_a_snippet(store, cohort, people):
    body = (
        "`</mark><script>alert(1)</script>` canary <mark>x</mark> &lt;b&gt; "
        '"><img src=x onerror=alert(1)> \x02canary\x03 \ue000 <!-- c --> canary'
    )
    say(store, people["ana"], cohort, body)
    title = '<img src=x onerror=alert(1)> canary "</mark>'
    write(
        store,
        lambda s: share_artifact(
            s, Actor.of(people["ana"]), s.merge(cohort), filename="c.py", content=b"c",
            title=title, description="<script>canary</script> [canary](javascript:alert(1))",
        ),
    )  # fmt: skip
    found = find(store, people["ben"], cohort, "canary script mark")
    post = found["posts"][0]["snippet"]
    assert "<mark>canary</mark>" in post
    assert "<script>alert(1)</script> canary" in only_marks(post)  # text, never a tag
    artifact = found["artifacts"][0]
    assert only_marks(artifact["title_html"]) == title
    assert "(javascript:alert(1))" in only_marks(artifact["snippet"])  # text, not a link
    found = find(store, people["ben"], cohort, "img onerror alert")
    assert only_marks(found["posts"][0]["snippet"]).count("<img") == 1


# --- the index follows every writer -------------------------------------------------------------


def test_index_follows_service_edits_and_deletes(store, cohort, people):
    ana = Actor.of(people["ana"])
    said = say(store, people["ana"], cohort, "an axolotl question")
    assert ids(find(store, people["ben"], cohort, "axolotl")) == [said]
    write(store, lambda s: posts.edit_post(s, ana, said, "a narwhal question"))
    assert ids(find(store, people["ben"], cohort, "axolotl")) == []
    assert ids(find(store, people["ben"], cohort, "narwhal")) == [said]
    write(store, lambda s: posts.delete_post(s, ana, said))
    assert ids(find(store, people["fay"], cohort, "narwhal")) == []


def test_index_follows_plain_sql(store, cohort, people):
    """Another program writing the tables directly: the database keeps the index."""
    said = say(store, people["ana"], cohort, "first words")
    with store.engine.begin() as conn:
        thread = conn.execute(
            text("SELECT thread_id FROM post WHERE id = :i"), {"i": said}
        ).scalar()
        conn.execute(text("UPDATE post SET body_md = 'ocelot words' WHERE id = :i"), {"i": said})
        conn.execute(
            text(
                "INSERT INTO post (thread_id, author_id, body_md, body_html, created_at, "
                "deleted, hidden, hidden_reason) VALUES (:t, :a, 'ocelot twin', "
                "'<p>ocelot twin</p>', CURRENT_TIMESTAMP, false, false, '')"
            ),
            {"t": thread, "a": people["ben"].id},
        )
        conn.execute(text("UPDATE thread SET title = 'Ocelot corner' WHERE id = :t"), {"t": thread})
    found = find(store, people["chi"], cohort, "ocelot")
    assert len(found["posts"]) == 2 and ids(found, "threads") == [thread]
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE post SET deleted = true WHERE id = :i"), {"i": said})
    assert len(find(store, people["chi"], cohort, "ocelot")["posts"]) == 1
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE post SET deleted = false WHERE id = :i"), {"i": said})
    assert len(find(store, people["chi"], cohort, "ocelot")["posts"]) == 2
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM post WHERE body_md = 'ocelot twin'"))
        conn.execute(text("DELETE FROM thread WHERE id = :t"), {"t": thread})  # cascades
    found = find(store, people["chi"], cohort, "ocelot")
    assert found["posts"] == found["threads"] == []
    if store.is_sqlite:  # nothing left behind in the FTS tables either
        with store.engine.connect() as conn:
            for table in ("search_post", "search_thread"):
                left = conn.execute(
                    text(f"SELECT count(*) FROM {table} WHERE {table} MATCH 'ocelot'")
                )
                assert left.scalar() == 0


def test_index_follows_artifacts_and_a_cohort_deleted_whole(store, cohort, people):
    made = write(
        store,
        lambda s: share_artifact(
            s, Actor.of(people["ana"]), s.merge(cohort), filename="gecko.py", content=b"g",
            title="Gecko helper", tags=["reptiles"],
        ).id,
    )  # fmt: skip
    for q in ("gecko", "reptiles", "helper gecko py"):
        assert ids(find(store, people["ben"], cohort, q), "artifacts") == [made], q
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE artifact SET title = 'Iguana helper' WHERE id = :i"), {"i": made})
    assert ids(find(store, people["ben"], cohort, "iguana"), "artifacts") == [made]
    say(store, people["ana"], cohort, "iguana chat")
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM cohort WHERE id = :c"), {"c": cohort.id})
        counts = {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("post", "thread", "artifact")
        }
        if store.is_sqlite:
            counts.update(
                {
                    t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                    for t in ("search_post", "search_thread", "search_artifact")
                }
            )
    assert set(counts.values()) == {0}, counts


@pytest.mark.slow
def test_index_follows_the_cli_archive_import(store, cohort, people, tmp_path: Path, db_url):
    said = say(store, people["ana"], cohort, "a capybara archive")
    env = isolated_env(tmp_path)
    dump = tmp_path / "community.zip"
    run = [sys.executable, "-m", "nbcohort.cohorts.cli"]
    out = subprocess.run([*run, "export", str(dump), f"--db-url={db_url}"], env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    out = subprocess.run([*run, "import", str(dump), f"--db-url={fresh}"], env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    other = Store.open(fresh)
    try:
        assert ids(find(other, people["ben"], cohort, "capybara")) == [said]
    finally:
        other.close()
