"""Posts and threads through the services layer: every rule, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import CommunitySettings
from nbcohort.cohorts.models import (
    Activity,
    Cohort,
    Flag,
    Member,
    Notification,
    Post,
    Reaction,
    ReadMark,
    Thread,
)
from nbcohort.cohorts.services import posts, threads
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.errors import Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.store import Store
from tests.helpers.community import race

SYSTEM = Actor.system()
ANCHOR = "module-1/loading-data"


def actor(member: Member) -> Actor:
    return Actor.of(member)


def count(store: Store, model: Any) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def snapshot(store: Store) -> tuple[int, ...]:
    """Row counts of everything a refused write must leave alone."""
    return tuple(
        count(store, m) for m in (Thread, Post, Reaction, Flag, ReadMark, Notification, Activity)
    )


def post(
    store: Store,
    who: Member,
    cohort: Cohort,
    body: object = "hello",
    anchor: str = ANCHOR,
    **kw: Any,
) -> Post:
    with store.write() as s:
        return posts.create_post(s, actor(who), cohort, anchor, body, **kw)


def read(store: Store, who: Member | Actor, cohort: Cohort, anchor: str = ANCHOR, **kw: Any):
    who = who if isinstance(who, Actor) else actor(who)
    with store.read() as s:
        return threads.read_thread(s, who, cohort, anchor, **kw)


def seen_as(store: Store, who: Member, post_id: int) -> dict[str, Any]:
    """``post_dict`` of one post, as ``who`` sees it."""
    with store.read() as s:
        return threads.post_dict(s.get(Post, post_id), actor(who))


def write(store: Store, fn: Callable[[Session], Any]) -> Any:
    with store.write() as s:
        return fn(s)


def refused(store: Store, error: type[Exception], fn: Callable[[Session], Any]) -> Any:
    """Run ``fn`` in a write scope, expect ``error``, and check that nothing was written."""
    before = snapshot(store)
    with pytest.raises(error) as info:
        write(store, fn)
    assert snapshot(store) == before
    return info.value


def db_post(store: Store, post_id: int) -> Post:
    with store.read() as s:
        row = s.get(Post, post_id)
    assert row is not None
    return row  # still readable after the scope


# --- threads --------------------------------------------------------------------------------


def test_first_post_creates_the_thread(store: Store, cohort: Cohort, people: dict) -> None:
    assert count(store, Thread) == 0
    first = post(store, people["ana"], cohort, "first!", title="  Loading data  ")
    post(store, people["ben"], cohort, "second")
    with store.read() as s:
        thread = s.scalars(select(Thread)).one()
        assert (thread.anchor, thread.kind, thread.title) == (ANCHOR, "section", "Loading data")
        assert thread.created_by == people["ana"].id
        assert thread.cohort_id == cohort.id
        assert first.thread_id == thread.id
    page = read(store, people["ben"], cohort)
    assert page["exists"] is True
    assert page["thread_id"] == first.thread_id
    assert page["total"] == 2


def test_topic_anchor_makes_a_topic_thread(store: Store, cohort: Cohort, people: dict) -> None:
    post(store, people["ana"], cohort, "tips?", anchor="topic/pandas-tips")
    with store.read() as s:
        assert s.scalars(select(Thread.kind)).one() == "topic"


def test_anchor_is_normalised(store: Store, cohort: Cohort, people: dict) -> None:
    a = post(store, people["ana"], cohort, "one", anchor=f"  /{ANCHOR}/ ")
    b = post(store, people["ben"], cohort, "two", anchor=ANCHOR)
    assert a.thread_id == b.thread_id
    assert read(store, people["chi"], cohort, f"/{ANCHOR}")["anchor"] == ANCHOR


def test_reading_an_unknown_anchor_creates_nothing(
    store: Store, cohort: Cohort, people: dict
) -> None:
    before = snapshot(store)
    page = read(store, people["ana"], cohort, "module-9/nobody-here")
    assert page == {
        "anchor": "module-9/nobody-here",
        "exists": False,
        "thread_id": None,
        "title": "",
        "locked": False,
        "posts": [],
        "has_more": False,
        "total": 0,
        "version": 0,
    }
    got = write(
        store, lambda s: threads.mark_read(s, actor(people["ana"]), cohort, "module-9/nobody-here")
    )
    assert got == 0
    assert snapshot(store) == before


BAD_ANCHORS = [
    "",
    "   ",
    "/",
    "a//b",
    "../etc/passwd",
    "module-1/..",
    "-module",
    "module 1",
    "module-1/<script>",
    "module?x=1",
    "module#top",
    "a\nb",
    "ü-first",
    "x" * 201,
]


@pytest.mark.parametrize("anchor", BAD_ANCHORS)
def test_invalid_anchor_is_refused(store: Store, cohort: Cohort, people: dict, anchor: str) -> None:
    ana = actor(people["ana"])
    exc = refused(store, Invalid, lambda s: posts.create_post(s, ana, cohort, anchor, "hi"))
    assert exc.field == "anchor"
    with pytest.raises(Invalid) as info, store.read() as s:
        threads.read_thread(s, ana, cohort, anchor)
    assert info.value.field == "anchor"


def test_longest_anchor_is_accepted(store: Store, cohort: Cohort, people: dict) -> None:
    anchor = "x" * 200
    post(store, people["ana"], cohort, "long anchor", anchor=anchor)
    assert read(store, people["ana"], cohort, anchor)["total"] == 1


# --- bodies ---------------------------------------------------------------------------------

SMALL = CommunitySettings(max_post_chars=50)


@pytest.mark.parametrize("body", ["", " ", "   \n\t  \n", "\u00a0\u2003", None, 42, ["x"]])
def test_empty_or_non_text_body_is_refused(
    store: Store, cohort: Cohort, people: dict, body: object
) -> None:
    ana = actor(people["ana"])
    exc = refused(store, Invalid, lambda s: posts.create_post(s, ana, cohort, ANCHOR, body))
    assert exc.field == "body"


INVISIBLE_BODIES = [
    "\u200b",  # zero-width space
    "\u200b \u200b\n\u200b",
    "\ufeff",  # byte order mark / zero-width no-break space
    "\u200c\u200d\u2060",  # zero-width non-joiner, joiner, word joiner
    "\u202e\u202c",  # bidi override and pop
    "\u00ad",  # soft hyphen
    "\x01\x7f\x1b",  # control characters
    "\r\n\u200b\r\n",
]


@pytest.mark.parametrize("body", INVISIBLE_BODIES)
def test_invisible_body_is_refused_as_empty(
    store: Store, cohort: Cohort, people: dict, body: str
) -> None:
    ana = actor(people["ana"])
    exc = refused(store, Invalid, lambda s: posts.create_post(s, ana, cohort, ANCHOR, body))
    assert exc.field == "body"
    assert "empty" in exc.message
    saved = post(store, people["ana"], cohort, "visible")
    exc = refused(store, Invalid, lambda s: posts.edit_post(s, ana, saved.id, body))
    assert exc.field == "body"
    assert db_post(store, saved.id).body_md == "visible"


def test_visible_text_with_invisible_characters_is_kept(
    store: Store, cohort: Cohort, people: dict
) -> None:
    body = "\u200bhi\u200d there\u2060"
    saved = post(store, people["ana"], cohort, body)
    assert db_post(store, saved.id).body_md == body  # accepted, and not rewritten


def test_oversized_body_is_refused(store: Store, cohort: Cohort, people: dict) -> None:
    ana = actor(people["ana"])
    exc = refused(
        store,
        Invalid,
        lambda s: posts.create_post(s, ana, cohort, ANCHOR, "x" * 51, rules=SMALL),
    )
    assert exc.field == "body"
    assert "50" in exc.message
    assert "51" in exc.message


def test_body_at_the_limit_is_accepted(store: Store, cohort: Cohort, people: dict) -> None:
    body = "é" * 50  # characters, not bytes
    saved = post(store, people["ana"], cohort, body, rules=SMALL)
    assert db_post(store, saved.id).body_md == body


def test_oversized_edit_is_refused_and_keeps_the_post(
    store: Store, cohort: Cohort, people: dict
) -> None:
    saved = post(store, people["ana"], cohort, "short", rules=SMALL)
    ana = actor(people["ana"])
    for body in ("y" * 51, "  ", None):
        exc = refused(store, Invalid, lambda s, b=body: posts.edit_post(s, ana, saved.id, b, SMALL))
        assert exc.field == "body"
    row = db_post(store, saved.id)
    assert (row.body_md, row.body_html, row.edited_at) == ("short", "<p>short</p>\n", None)


def test_crlf_is_stored_as_lf(store: Store, cohort: Cohort, people: dict) -> None:
    saved = post(store, people["ana"], cohort, "line one\r\nline two")
    assert db_post(store, saved.id).body_md == "line one\nline two"


def test_length_limit_counts_after_crlf_normalisation(
    store: Store, cohort: Cohort, people: dict
) -> None:
    body = "line\r\n" * 10  # 60 characters as sent, 50 once stored
    saved = post(store, people["ana"], cohort, body, rules=SMALL)
    assert db_post(store, saved.id).body_md == "line\n" * 10
    ana = actor(people["ana"])
    edited = "edit\r\n" * 10
    write(store, lambda s: posts.edit_post(s, ana, saved.id, edited, SMALL))
    assert db_post(store, saved.id).body_md == "edit\n" * 10
    over = "line\r\n" * 10 + "x"  # 51 once stored
    exc = refused(
        store, Invalid, lambda s: posts.create_post(s, ana, cohort, ANCHOR, over, rules=SMALL)
    )
    assert exc.field == "body"
    assert "this one has 51" in exc.message


UNICODE_TEXTS = {
    "arabic": "مرحبا بكم في الدورة، كيف حالكم؟",
    "hebrew": "שלום לכולם, מה שלומכם?",
    "emoji": "🎉 done 👩🏽‍💻 🇧🇷 ❤️",
    "combining": "cafe\u0301 man\u0303ana Zoe\u0308 a\u030a",
    "mixed-direction": "use df.head() ثم df.tail() כדי לראות",
    "cjk": "数据分析很有趣 データ 분석",
    "bidi-controls": "\u202bمرحبا\u202c then \u2067abc\u2069",
}


@pytest.mark.parametrize("name", list(UNICODE_TEXTS))
def test_unicode_and_rtl_round_trip_exactly(
    store: Store, cohort: Cohort, people: dict, name: str
) -> None:
    text = UNICODE_TEXTS[name]
    saved = post(store, people["ana"], cohort, text)
    row = db_post(store, saved.id)
    assert row.body_md == text  # no normalisation: combining characters kept as written
    assert row.body_html == f"<p>{text}</p>\n"
    page = read(store, people["ana"], cohort)
    assert page["posts"][0]["markdown"] == text
    assert page["posts"][0]["html"] == f"<p>{text}</p>\n"
    assert read(store, people["ben"], cohort)["posts"][0]["html"] == f"<p>{text}</p>\n"


def test_unicode_in_markdown_structure(store: Store, cohort: Cohort, people: dict) -> None:
    saved = post(store, people["ana"], cohort, "**שלום** _مرحبا_ `🎉`")
    assert db_post(store, saved.id).body_html == (
        "<p><strong>שלום</strong> <em>مرحبا</em> <code>🎉</code></p>\n"
    )


def test_html_in_a_post_is_stored_as_source_and_shown_inert(
    store: Store, cohort: Cohort, people: dict
) -> None:
    body = "<script>alert(1)</script> <img src=x onerror=alert(1)>"
    saved = post(store, people["ana"], cohort, body)
    row = db_post(store, saved.id)
    assert row.body_md == body
    assert "<script" not in row.body_html
    assert "<img" not in row.body_html
    assert "&lt;script&gt;" in row.body_html


# --- replies and paging ---------------------------------------------------------------------


def test_reply_to_a_reply_attaches_to_the_top_level_post(
    store: Store, cohort: Cohort, people: dict
) -> None:
    top = post(store, people["ana"], cohort, "question")
    reply = post(store, people["ben"], cohort, "answer", parent_id=top.id)
    nested = post(store, people["chi"], cohort, "answer to the answer", parent_id=reply.id)
    assert reply.parent_id == top.id
    assert nested.parent_id == top.id
    page = read(store, people["ana"], cohort)
    assert [p["id"] for p in page["posts"]] == [top.id]
    assert [r["id"] for r in page["posts"][0]["replies"]] == [reply.id, nested.id]
    assert all(r["replies"] == [] for r in page["posts"][0]["replies"])


def test_reply_must_be_in_the_same_thread(store: Store, cohort: Cohort, people: dict) -> None:
    elsewhere = post(store, people["ana"], cohort, "elsewhere", anchor="module-2/other")
    ben = actor(people["ben"])
    for anchor in (ANCHOR, "module-3/not-yet"):  # an existing thread, and one not yet created
        post(store, people["ana"], cohort, "here")
        exc = refused(
            store,
            Invalid,
            lambda s, a=anchor: posts.create_post(s, ben, cohort, a, "x", parent_id=elsewhere.id),
        )
        assert exc.field == "parent_id"


def test_reply_to_a_missing_or_deleted_post_is_refused(
    store: Store, cohort: Cohort, people: dict
) -> None:
    top = post(store, people["ana"], cohort, "soon gone")
    write(store, lambda s: posts.delete_post(s, actor(people["ana"]), top.id))
    ben = actor(people["ben"])
    exc = refused(
        store, Invalid, lambda s: posts.create_post(s, ben, cohort, ANCHOR, "x", parent_id=top.id)
    )
    assert exc.field == "parent_id"
    refused(
        store, NotFound, lambda s: posts.create_post(s, ben, cohort, ANCHOR, "x", parent_id=10**9)
    )


def test_paging_through_a_long_thread(store: Store, cohort: Cohort, people: dict) -> None:
    authors = [people["ana"], people["ben"], people["chi"]]
    with store.write() as s:
        made = [
            posts.create_post(s, actor(authors[i % 3]), cohort, ANCHOR, f"post number {i}").id
            for i in range(75)
        ]
        # a few replies: they travel with their top-level post, not as page items (made[44]
        # is the post a 30-post first page reads one beyond, to know that there is more)
        reply_ids = {
            parent: posts.create_post(s, actor(people["fay"]), cohort, ANCHOR, "reply",
                                      parent_id=parent).id
            for parent in (made[0], made[40], made[44], made[74])
        }  # fmt: skip
        for who, kind in (("ana", "+1"), ("ben", "+1"), ("ben", "helpful")):
            posts.react(s, actor(people[who]), reply_ids[made[44]], kind)
    seen: list[int] = []
    pages = []
    before = None
    while True:
        page = read(store, people["ben"], cohort, before=before, limit=30)
        pages.append(page)
        ids = [p["id"] for p in page["posts"]]
        assert ids == sorted(ids)  # oldest first within a page
        assert page["total"] == 79
        seen = ids + seen
        if not page["has_more"]:
            break
        before = ids[0]
    assert [len(p["posts"]) for p in pages] == [30, 30, 15]
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert seen == made  # every top-level post exactly once, in order: no gaps, no duplicates
    assert pages[0]["posts"][-1]["replies"][0]["parent_id"] == made[74]
    replies = [r for pg in pages for p in pg["posts"] for r in p["replies"]]
    assert sorted(r["parent_id"] for r in replies) == [made[0], made[40], made[44], made[74]]
    reply = next(r for r in replies if r["parent_id"] == made[44])
    assert reply["reactions"] == {"+1": 2, "helpful": 1}
    assert reply["my_reactions"] == ["+1", "helpful"]  # ben reads


def test_last_page_exactly_full_has_no_more(store: Store, cohort: Cohort, people: dict) -> None:
    with store.write() as s:
        made = [posts.create_post(s, actor(people["ana"]), cohort, ANCHOR, f"p{i}").id
                for i in range(50)]  # fmt: skip
    first = read(store, people["ana"], cohort, limit=25)
    second = read(store, people["ana"], cohort, before=first["posts"][0]["id"], limit=25)
    assert (first["has_more"], second["has_more"]) == (True, False)
    assert [p["id"] for p in second["posts"] + first["posts"]] == made
    empty = read(store, people["ana"], cohort, before=made[0], limit=25)
    assert (empty["posts"], empty["has_more"], empty["total"]) == ([], False, 50)


@pytest.mark.parametrize("limit", [0, -1, 201])
def test_page_limit_is_bounded(store: Store, cohort: Cohort, people: dict, limit: int) -> None:
    post(store, people["ana"], cohort)
    with pytest.raises(Invalid) as info:
        read(store, people["ana"], cohort, limit=limit)
    assert info.value.field == "limit"


# --- editing and deleting -------------------------------------------------------------------


def test_edit_own_post(store: Store, cohort: Cohort, people: dict) -> None:
    saved = post(store, people["ana"], cohort, "first *draft*")
    assert saved.edited_at is None
    edited = write(store, lambda s: posts.edit_post(s, actor(people["ana"]), saved.id, "**final**"))
    row = db_post(store, saved.id)
    assert row.body_md == "**final**"
    assert row.body_html == "<p><strong>final</strong></p>\n"
    assert row.edited_at is not None
    assert row.edited_at.utcoffset() == timedelta(0)
    assert row.edited_at >= row.created_at
    assert edited.edited_at == row.edited_at
    view = seen_as(store, people["ben"], saved.id)
    assert view["edited_at"] == row.edited_at.isoformat()


@pytest.mark.parametrize("who", ["ben", "chi", "fay", "ivo"])
def test_nobody_edits_someone_elses_post(
    store: Store, cohort: Cohort, people: dict, who: str
) -> None:
    saved = post(store, people["ana"], cohort, "my words")
    editor = actor(people[who])
    refused(store, Forbidden, lambda s: posts.edit_post(s, editor, saved.id, "your words"))
    assert db_post(store, saved.id).body_md == "my words"


def test_system_does_not_edit_members_words(store: Store, cohort: Cohort, people: dict) -> None:
    saved = post(store, people["ana"], cohort, "my words")
    refused(store, Forbidden, lambda s: posts.edit_post(s, SYSTEM, saved.id, "other words"))


def test_deleted_post_cannot_be_edited(store: Store, cohort: Cohort, people: dict) -> None:
    saved = post(store, people["ana"], cohort, "gone")
    ana = actor(people["ana"])
    write(store, lambda s: posts.delete_post(s, ana, saved.id))
    exc = refused(store, Invalid, lambda s: posts.edit_post(s, ana, saved.id, "back"))
    assert exc.field == "post_id"


def test_delete_own_post(store: Store, cohort: Cohort, people: dict) -> None:
    saved = post(store, people["ana"], cohort, "regret")
    reply = post(store, people["ben"], cohort, "reply stays", parent_id=saved.id)
    write(store, lambda s: posts.delete_post(s, actor(people["ana"]), saved.id))
    assert db_post(store, saved.id).deleted is True
    for who in ("ana", "ben", "fay"):
        view = seen_as(store, people[who], saved.id)
        assert (view["html"], view["markdown"], view["deleted"]) == ("", None, True)
        assert view["can_delete"] is False
        assert view["can_edit"] is False
    page = read(store, people["ben"], cohort)
    assert page["posts"][0]["id"] == saved.id  # keeps its place
    assert page["posts"][0]["replies"][0]["id"] == reply.id
    assert page["posts"][0]["replies"][0]["html"] == "<p>reply stays</p>\n"
    # deleting twice is harmless and logs once
    write(store, lambda s: posts.delete_post(s, actor(people["ana"]), saved.id))
    with store.read() as s:
        assert s.scalar(select(func.count()).where(Activity.verb == "post.delete")) == 1


@pytest.mark.parametrize("who", ["ben", "chi", "sam"])
def test_non_staff_cannot_delete_others_posts(
    store: Store, cohort: Cohort, people: dict, who: str
) -> None:
    saved = post(store, people["ana"], cohort, "mine")
    deleter = actor(people[who])
    refused(store, Forbidden, lambda s: posts.delete_post(s, deleter, saved.id, "spam"))
    assert db_post(store, saved.id).deleted is False


@pytest.mark.parametrize("who", ["fay", "ivo"])
def test_staff_delete_others_posts_with_a_reason(
    store: Store, cohort: Cohort, people: dict, who: str
) -> None:
    saved = post(store, people["ana"], cohort, "off topic")
    staff = actor(people[who])
    for reason in ("", "   "):
        exc = refused(store, Invalid, lambda s, r=reason: posts.delete_post(s, staff, saved.id, r))
        assert exc.field == "reason"
    write(store, lambda s: posts.delete_post(s, staff, saved.id, "  off topic  "))
    assert db_post(store, saved.id).deleted is True
    with store.read() as s:
        entry = s.scalars(select(Activity).where(Activity.verb == "post.delete")).one()
        assert (entry.member_id, entry.cohort_id) == (people[who].id, cohort.id)
        assert entry.data == {"own": False, "reason": "off topic"}


# --- reactions ------------------------------------------------------------------------------


def test_reactions_are_idempotent(store: Store, cohort: Cohort, people: dict) -> None:
    saved = post(store, people["ana"], cohort)
    ben = actor(people["ben"])
    assert write(store, lambda s: posts.react(s, ben, saved.id, "helpful")) is True
    assert write(store, lambda s: posts.react(s, ben, saved.id, "helpful")) is False
    assert write(store, lambda s: posts.react(s, actor(people["chi"]), saved.id, "helpful"))
    assert write(store, lambda s: posts.react(s, ben, saved.id, "+1")) is True
    assert count(store, Reaction) == 3
    view = read(store, people["ben"], cohort)["posts"][0]
    assert view["reactions"] == {"helpful": 2, "+1": 1}
    assert view["my_reactions"] == ["+1", "helpful"]
    assert read(store, people["ana"], cohort)["posts"][0]["my_reactions"] == []
    with store.read() as s:
        assert s.scalar(select(func.count()).where(Activity.verb == "post.react")) == 3


@pytest.mark.parametrize("kind", ["love", "Helpful", "", "helpful ", "<b>"])
def test_unknown_reaction_is_refused(store: Store, cohort: Cohort, people: dict, kind: str) -> None:
    saved = post(store, people["ana"], cohort)
    ben = actor(people["ben"])
    exc = refused(store, Invalid, lambda s: posts.react(s, ben, saved.id, kind))
    assert exc.field == "kind"


def test_configured_reactions(store: Store, cohort: Cohort, people: dict) -> None:
    rules = CommunitySettings(reactions=["🎉"])
    saved = post(store, people["ana"], cohort)
    ben = actor(people["ben"])
    assert write(store, lambda s: posts.react(s, ben, saved.id, "🎉", rules)) is True
    refused(store, Invalid, lambda s: posts.react(s, ben, saved.id, "helpful", rules))


def test_unreact(store: Store, cohort: Cohort, people: dict) -> None:
    saved = post(store, people["ana"], cohort)
    ben = actor(people["ben"])
    write(store, lambda s: posts.react(s, ben, saved.id, "helpful"))
    write(store, lambda s: posts.react(s, actor(people["chi"]), saved.id, "helpful"))
    assert write(store, lambda s: posts.unreact(s, ben, saved.id, "helpful")) is True
    assert write(store, lambda s: posts.unreact(s, ben, saved.id, "helpful")) is False
    assert read(store, people["ben"], cohort)["posts"][0]["reactions"] == {"helpful": 1}
    assert read(store, people["ben"], cohort)["posts"][0]["my_reactions"] == []


def test_reacting_to_a_deleted_post_is_refused(store: Store, cohort: Cohort, people: dict) -> None:
    saved = post(store, people["ana"], cohort)
    write(store, lambda s: posts.delete_post(s, actor(people["ana"]), saved.id))
    ben = actor(people["ben"])
    refused(store, Invalid, lambda s: posts.react(s, ben, saved.id, "helpful"))


def test_sponsor_cannot_react_or_flag(store: Store, cohort: Cohort, people: dict) -> None:
    saved = post(store, people["ana"], cohort)
    sam = actor(people["sam"])
    refused(store, Forbidden, lambda s: posts.react(s, sam, saved.id, "helpful"))
    refused(store, Forbidden, lambda s: posts.flag_post(s, sam, saved.id, "meh"))


# --- flags and moderation -------------------------------------------------------------------

TWO = CommunitySettings(flag_threshold=2)


def flag(store: Store, who: Member, post_id: int, reason: str = "rude") -> Post:
    return write(store, lambda s: posts.flag_post(s, actor(who), post_id, reason, TWO))


def test_flagging_own_post_is_refused(store: Store, cohort: Cohort, people: dict) -> None:
    saved = post(store, people["ana"], cohort)
    ana = actor(people["ana"])
    exc = refused(store, Invalid, lambda s: posts.flag_post(s, ana, saved.id, "oops", TWO))
    assert exc.field == "post_id"


def test_over_long_flag_reason_is_refused(store: Store, cohort: Cohort, people: dict) -> None:
    saved = post(store, people["ana"], cohort)
    ben = actor(people["ben"])
    exc = refused(store, Invalid, lambda s: posts.flag_post(s, ben, saved.id, "x" * 501, TWO))
    assert exc.field == "reason"


def test_flags_from_distinct_members_hide_the_post(
    store: Store, cohort: Cohort, people: dict
) -> None:
    saved = post(store, people["ana"], cohort, "something rude")
    assert flag(store, people["ben"], saved.id).hidden is False
    assert flag(store, people["ben"], saved.id).hidden is False  # the same member counts once
    assert count(store, Flag) == 1
    assert flag(store, people["chi"], saved.id).hidden is True
    assert count(store, Flag) == 2
    row = db_post(store, saved.id)
    assert row.hidden is True
    assert "2 flags" in row.hidden_reason
    with store.read() as s:
        verbs = list(s.scalars(select(Activity.verb).where(Activity.object_id == saved.id)))
    assert verbs.count("post.flag") == 2
    assert verbs.count("post.autohide") == 1


def test_hidden_post_text_is_shown_to_staff_only(
    store: Store, cohort: Cohort, people: dict
) -> None:
    saved = post(store, people["ana"], cohort, "something rude")
    flag(store, people["ben"], saved.id)
    flag(store, people["chi"], saved.id)
    for who in ("ben", "chi", "sam"):
        view = seen_as(store, people[who], saved.id)
        assert (view["html"], view["markdown"], view["hidden"]) == ("", None, True)
        assert view["hidden_reason"] == ""
        listed = read(store, people[who], cohort)["posts"][0]
        assert (listed["html"], listed["markdown"], listed["hidden"]) == ("", None, True)
    author = seen_as(store, people["ana"], saved.id)
    assert (author["html"], author["hidden"]) == ("", True)
    assert "flags" in author["hidden_reason"]  # the author learns why
    for who in ("fay", "ivo"):
        view = seen_as(store, people[who], saved.id)
        assert view["html"] == "<p>something rude</p>\n"
        assert view["markdown"] == "something rude"
        listed = read(store, people[who], cohort)["posts"][0]
        assert listed["html"] == "<p>something rude</p>\n"


@pytest.mark.parametrize("who", ["ana", "ben", "chi", "sam"])
def test_moderation_needs_staff(store: Store, cohort: Cohort, people: dict, who: str) -> None:
    saved = post(store, people["ana"], cohort)
    mod = actor(people[who])
    refused(store, Forbidden, lambda s: posts.moderate_post(s, mod, saved.id, "hide", "why"))
    assert db_post(store, saved.id).hidden is False


def test_moderation_needs_a_reason_and_a_known_action(
    store: Store, cohort: Cohort, people: dict
) -> None:
    saved = post(store, people["ana"], cohort)
    fay = actor(people["fay"])
    for reason in ("", "  "):
        exc = refused(
            store,
            Invalid,
            lambda s, r=reason: posts.moderate_post(s, fay, saved.id, "hide", r),
        )
        assert exc.field == "reason"
    exc = refused(store, Invalid, lambda s: posts.moderate_post(s, fay, saved.id, "delete", "x"))
    assert exc.field == "action"


def test_hide_and_restore(store: Store, cohort: Cohort, people: dict) -> None:
    saved = post(store, people["ana"], cohort, "borderline")
    fay = actor(people["fay"])
    write(store, lambda s: posts.moderate_post(s, fay, saved.id, "hide", " personal data "))
    row = db_post(store, saved.id)
    assert (row.hidden, row.hidden_reason) == (True, "personal data")
    assert seen_as(store, people["ben"], saved.id)["html"] == ""
    write(store, lambda s: posts.moderate_post(s, fay, saved.id, "restore", "fixed"))
    row = db_post(store, saved.id)
    assert (row.hidden, row.hidden_reason) == (False, "")
    assert seen_as(store, people["ben"], saved.id)["html"] == "<p>borderline</p>\n"
    with store.read() as s:
        log = [
            (a.verb, a.member_id, a.data)
            for a in s.scalars(
                select(Activity).where(Activity.verb.in_(["post.hide", "post.restore"]))
            )
        ]
    assert log == [
        ("post.hide", people["fay"].id, {"reason": "personal data"}),
        ("post.restore", people["fay"].id, {"reason": "fixed"}),
    ]


def test_restore_resolves_open_flags(store: Store, cohort: Cohort, people: dict) -> None:
    saved = post(store, people["ana"], cohort, "fine after all")
    flag(store, people["ben"], saved.id)
    flag(store, people["chi"], saved.id)
    assert db_post(store, saved.id).hidden is True
    fay = actor(people["fay"])
    write(store, lambda s: posts.moderate_post(s, fay, saved.id, "restore", "reviewed: fine"))
    with store.read() as s:
        flags = list(s.scalars(select(Flag)))
        assert all(f.resolved_at is not None for f in flags)
        assert {f.resolved_by for f in flags} == {people["fay"].id}
        assert all(f.resolved_at.utcoffset() == timedelta(0) for f in flags)
    # resolved flags no longer count: one new flag does not hide it again
    assert flag(store, people["ivo"], saved.id).hidden is False
    # someone who flagged before may flag the restored post again: their flag reopens...
    assert flag(store, people["ben"], saved.id, "still rude").hidden is True  # ...and counts
    assert count(store, Flag) == 3  # reopened, not added
    with store.read() as s:
        flags = {f.member_id: f for f in s.scalars(select(Flag))}
    ben_flag = flags[people["ben"].id]
    assert (ben_flag.resolved_at, ben_flag.resolved_by, ben_flag.reason) == (
        None,
        None,
        "still rude",
    )
    assert flags[people["chi"].id].resolved_at is not None  # chi's stays resolved
    assert flags[people["ivo"].id].resolved_at is None
    row = db_post(store, saved.id)
    assert row.hidden is True
    assert "2 flags" in row.hidden_reason
    # flagging again while the flag is open is still a no-op
    flag(store, people["ben"], saved.id, "changed my reason")
    with store.read() as s:
        reason = s.scalar(select(Flag.reason).where(Flag.member_id == people["ben"].id))
        verbs = list(s.scalars(select(Activity.verb).where(Activity.object_id == saved.id)))
    assert reason == "still rude"
    assert count(store, Flag) == 3
    assert verbs.count("post.flag") == 4  # ben, chi, ivo, ben again after the restore
    assert verbs.count("post.autohide") == 2


# --- cohorts are walled off -----------------------------------------------------------------


@pytest.fixture
def other(store: Store) -> dict[str, Any]:
    """A second cohort with a learner and a facilitator."""
    with store.write() as s:
        cohort_b = create_cohort(s, SYSTEM, "autumn-26", "Autumn")
        zed = add_member(s, SYSTEM, cohort_b, name="Zed", email="zed@example.org")
        yan = add_member(
            s, SYSTEM, cohort_b, name="Yan", email="yan@example.org", role="facilitator"
        )
    return {"cohort": cohort_b, "zed": zed, "yan": yan}


def test_cohorts_cannot_see_or_touch_each_others_posts(
    store: Store, cohort: Cohort, people: dict, other: dict
) -> None:
    saved = post(store, people["ana"], cohort, "cohort A only")
    zed, yan = actor(other["zed"]), actor(other["yan"])
    pid = saved.id
    attempts: list[Callable[[Session], Any]] = [
        lambda s: threads.read_thread(s, zed, cohort, ANCHOR),
        lambda s: threads.mark_read(s, zed, cohort, ANCHOR),
        lambda s: posts.create_post(s, zed, cohort, ANCHOR, "intruder"),
        lambda s: posts.get_post(s, zed, pid),
        lambda s: posts.react(s, zed, pid, "helpful"),
        lambda s: posts.unreact(s, zed, pid, "helpful"),
        lambda s: posts.flag_post(s, zed, pid, "x"),
        lambda s: posts.edit_post(s, zed, pid, "x"),
        lambda s: posts.delete_post(s, zed, pid),
        lambda s: posts.delete_post(s, yan, pid, "moderating across cohorts"),
        lambda s: posts.moderate_post(s, yan, pid, "hide", "across cohorts"),
        lambda s: posts.create_post(s, zed, other["cohort"], ANCHOR, "reply", parent_id=pid),
    ]
    for attempt in attempts:
        refused(store, NotFound, attempt)
    row = db_post(store, pid)
    assert (row.deleted, row.hidden, row.body_md) == (False, False, "cohort A only")


def test_same_anchor_in_two_cohorts_is_two_threads(
    store: Store, cohort: Cohort, people: dict, other: dict
) -> None:
    a = post(store, people["ana"], cohort, "in A")
    b = post(store, other["zed"], other["cohort"], "in B")
    assert a.thread_id != b.thread_id
    assert [p["html"] for p in read(store, other["zed"], other["cohort"])["posts"]] == [
        "<p>in B</p>\n"
    ]
    assert [p["html"] for p in read(store, people["ben"], cohort)["posts"]] == ["<p>in A</p>\n"]


def test_sponsor_reads_and_replies_but_starts_no_post(
    store: Store, cohort: Cohort, people: dict
) -> None:
    first = post(store, people["ana"], cohort, "hello sponsors")
    sam = actor(people["sam"])
    refused(store, Forbidden, lambda s: posts.create_post(s, sam, cohort, ANCHOR, "hi"))
    refused(store, Forbidden, lambda s: posts.create_post(s, sam, cohort, "topic/new", "hi"))
    assert read(store, sam, cohort)["posts"][0]["html"] == "<p>hello sponsors</p>\n"
    write(store, lambda s: posts.create_post(s, sam, cohort, ANCHOR, "hi", parent_id=first.id))
    (top,) = read(store, people["ben"], cohort)["posts"]
    assert [r["label"] for r in top["replies"]] == ["sponsor"] and top["label"] == ""


def test_system_actor_cannot_post(store: Store, cohort: Cohort, people: dict) -> None:
    refused(store, Forbidden, lambda s: posts.create_post(s, SYSTEM, cohort, ANCHOR, "hi"))


# --- read marks -----------------------------------------------------------------------------


def test_mark_read_records_a_private_read_mark(store: Store, cohort: Cohort, people: dict) -> None:
    post(store, people["ana"], cohort, "one")
    second = post(store, people["ana"], cohort, "two")
    ben = actor(people["ben"])
    assert write(store, lambda s: threads.mark_read(s, ben, cohort, ANCHOR)) == second.id
    assert write(store, lambda s: threads.mark_read(s, ben, cohort, ANCHOR)) == second.id
    with store.read() as s:
        marks = [(m.member_id, m.last_post_id) for m in s.scalars(select(ReadMark))]
        read_logs = s.scalar(select(func.count()).where(Activity.verb == "thread.read"))
    assert marks == [(people["ben"].id, second.id)]
    assert read_logs == 1  # reading again without new posts writes nothing
    third = post(store, people["ana"], cohort, "three")
    assert write(store, lambda s: threads.mark_read(s, ben, cohort, ANCHOR)) == third.id
    with store.read() as s:
        assert [m.last_post_id for m in s.scalars(select(ReadMark))] == [third.id]
    # nobody else's view of the thread says who read what
    page = read(store, people["ana"], cohort)
    for p in page["posts"]:
        assert set(p) == {
            "id", "thread_id", "parent_id", "author", "html", "markdown", "created_at",
            "edited_at", "deleted", "hidden", "hidden_reason", "reactions", "my_reactions",
            "can_edit", "can_delete", "replies",
            "removed",
            "label",
        }  # fmt: skip
    assert "read" not in repr(page).replace("thread", "")


# --- concurrency: two members post the first post at the same moment ------------------------


def test_simultaneous_first_posts_share_one_thread(
    store: Store, cohort: Cohort, people: dict
) -> None:
    ana, ben = actor(people["ana"]), actor(people["ben"])
    errors = race(
        store,
        lambda s: posts.create_post(s, ana, cohort, "topic/race", "first"),
        lambda s: posts.create_post(s, ben, cohort, "topic/race", "second"),
    )
    assert errors == []
    assert count(store, Thread) == 1
    assert read(store, people["chi"], cohort, "topic/race")["total"] == 2


def test_simultaneous_double_reaction_is_one_reaction(
    store: Store, cohort: Cohort, people: dict
) -> None:
    saved = post(store, people["ana"], cohort)
    ben = actor(people["ben"])
    errors = race(
        store,
        lambda s: posts.react(s, ben, saved.id, "helpful"),
        lambda s: posts.react(s, ben, saved.id, "helpful"),
    )
    assert errors == []
    assert count(store, Reaction) == 1


def test_simultaneous_read_marks_are_one_mark(store: Store, cohort: Cohort, people: dict) -> None:
    newest = post(store, people["ana"], cohort)
    ben = actor(people["ben"])
    errors = race(
        store,
        lambda s: threads.mark_read(s, ben, cohort, ANCHOR),
        lambda s: threads.mark_read(s, ben, cohort, ANCHOR),
    )
    assert errors == []
    with store.read() as s:
        assert [(m.member_id, m.last_post_id) for m in s.scalars(select(ReadMark))] == [
            (people["ben"].id, newest.id)
        ]
        assert s.scalar(select(func.count()).where(Activity.verb == "thread.read")) == 1
