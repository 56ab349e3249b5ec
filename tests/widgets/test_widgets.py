"""The notebook widgets against a real service, driven as a learner's clicks drive them."""

from __future__ import annotations

import time

import ipywidgets as w
from sqlalchemy import func, select

from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.models import ArtifactReuse, Member, Notification, Post, ReadMark
from nbcohort.cohorts.services.practices import sync_practices
from nbcohort.cohorts.services.prompts import sync_prompts
from nbcohort.widgets import _connection, applied, discussion, library, prompt, share
from nbcohort.widgets.discussion import Discussion
from tests.helpers.community import SYSTEM

# One service and database per module and leg; a cohort of its own per test.
from tests.helpers.shared_serve import (  # noqa: F401 - the fixtures
    serve_cohort,
    serve_db_url,
    serve_module_service,
    serve_module_world,
    serve_service,
    serve_store,
)

ANCHOR = "module-1/loading-data"


def ours(cohort):
    """The test cohort's members (the module's tests share one database)."""
    return select(Member.id).where(Member.cohort_id == cohort.id)


def count(store, model, *where):
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def posts(store, cohort) -> int:
    return count(store, Post, Post.author_id.in_(ours(cohort)))


def test_offline_is_one_calm_line_and_fast(monkeypatch):
    _connection.reset()
    monkeypatch.setenv("NBCOHORT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NBCOHORT_TOKEN", "nbc_whatever")
    makers = [
        lambda: discussion(ANCHOR),
        lambda: prompt("day-1"),
        lambda: applied("read-csv"),
        lambda: share("x.csv"),
        library,
    ]
    for make in makers:
        started = time.monotonic()
        widget = make()
        assert time.monotonic() - started < 2.5
        assert isinstance(widget, w.HTML)
        assert "community offline" in widget.value


def test_grading_never_touches_the_network(monkeypatch):
    _connection.reset()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("NBCOHORT_URL", "http://10.255.255.1:1")  # would hang if contacted
    monkeypatch.setenv("NBCOHORT_TOKEN", "nbc_whatever")
    started = time.monotonic()
    assert "while nbgrader runs" in discussion(ANCHOR).value
    assert time.monotonic() - started < 0.5


def test_bad_token_says_so(as_member, monkeypatch):
    as_member("ana")
    monkeypatch.setenv("NBCOHORT_TOKEN", "nbc_not_a_real_token")
    assert "token is not valid" in discussion(ANCHOR).value


def test_post_reply_react_edit_through_the_widget(as_member, store, cohort, people):
    as_member("ana")
    d = discussion(ANCHOR)
    assert isinstance(d, Discussion)
    assert "no posts yet" in d.summary.description
    d.expand()
    assert posts(store, cohort) == 0  # reading does not create the thread
    d.composer.text.value = "How do I parse **dates** while loading? cc @ben"
    d.composer.show_preview()
    assert '<span class="nbc-mention"' in d.composer.preview.value
    assert posts(store, cohort) == 0  # a preview saves nothing
    d.composer.submit()
    assert d.composer.text.value == ""
    assert "1 post" in d.summary.description
    with store.read() as s:
        post = s.scalars(select(Post).where(Post.author_id.in_(ours(cohort)))).one()
        assert post.body_md.startswith("How do I parse")
        mention = select(Notification.kind).where(Notification.member_id == people["ben"].id)
        assert s.scalar(mention) == "mention"

    as_member("ben")
    d2 = discussion(ANCHOR, expanded=True)
    card = d2.posts.children[0]
    card.toggle_reaction("helpful")
    assert card.post["reactions"] == {"helpful": 1}
    card.toggle_reaction("helpful")  # a second click takes it back
    assert card.post["reactions"] == {}
    card.open_reply()
    card.reply_box.text.value = "`parse_dates=['date']`"
    card.reply_box.submit()
    assert len(card.replies.children) == 1
    labels = card.action_labels()
    assert "Flag" in labels  # not Edit or Delete: the post is Ana's
    assert "Edit" not in labels and "Delete" not in labels
    with store.read() as s:
        marks = s.scalars(
            select(ReadMark.member_id).where(ReadMark.member_id.in_(ours(cohort)))
        ).all()
        assert marks == [people["ben"].id]  # Ben read it; Ana only saw an empty thread

    as_member("ana")
    mine = discussion(ANCHOR, expanded=True).posts.children[0]
    labels = mine.action_labels()
    assert "Edit" in labels and "Delete" in labels and "Flag" not in labels
    mine.open_edit()
    box = mine.panel.form.children[0]
    assert box.text.value.startswith("How do I parse")
    box.text.value = "How do I parse dates while loading?"
    box.submit()
    assert "edited" in mine.body.value


def test_failed_post_keeps_the_text(as_member, store, cohort):
    as_member("ana")
    d = discussion(ANCHOR)
    d.composer.text.value = "x" * 20_001
    d.composer.submit()
    assert "limited to 20000 characters" in d.composer.status.value
    assert len(d.composer.text.value) == 20_001
    assert posts(store, cohort) == 0


def test_show_earlier_pages_through_a_long_thread(as_member, tokens, service):
    client = CohortClient(service.url, tokens["chi"], timeout=10)
    for i in range(25):
        client.post(ANCHOR, f"post number {i}")
    as_member("ana")
    d = discussion(ANCHOR, page_size=10, expanded=True)
    assert len(d.posts.children) == 10
    assert d.earlier.layout.display is None
    d.load_earlier()
    d.load_earlier()
    assert len(d.posts.children) == 25
    assert d.earlier.layout.display == "none"
    texts = [c.post["html"] for c in d.posts.children]
    assert texts == [f"<p>post number {i}</p>\n" for i in range(25)]


def test_prompt_shows_answers_only_after_answering(as_member, store, cohort):
    with store.write() as s:
        sync_prompts(s, SYSTEM, s.merge(cohort), {"day-1": "What format is your data in?"})
    as_member("ben")
    p = prompt("day-1")
    p.composer.text.value = "CSV exports from SAP"
    p.composer.submit()
    as_member("ana")
    p = prompt("day-1")
    assert "What format is your data in?" in p.question.value
    assert "1 member answered" in p.answers.value
    assert "SAP" not in p.answers.value
    p.composer.text.value = "Excel, sadly"
    p.composer.submit()
    assert "SAP" in p.answers.value
    assert "Excel, sadly" in p.mine.value
    p.composer.text.value = "Excel and Parquet"  # answering again edits the answer
    p.composer.submit()
    assert "Excel and Parquet" in p.mine.value
    assert posts(store, cohort) == 2
    assert "no micro-prompt &#x27;day-9&#x27;" in prompt("day-9").value


def test_applied_records_once_and_updates_the_note(as_member, store, cohort):
    with store.write() as s:
        sync_practices(s, SYSTEM, s.merge(cohort), {"read-csv-encoding": "Read a CSV's encoding"})
    as_member("ana")
    unknown = applied("made-up-practice")  # not the course's: nothing to count, said plainly
    assert "no practice &#x27;made-up-practice&#x27; in this course" in unknown.value
    assert "community offline" not in unknown.value
    a = applied("read-csv-encoding")
    assert "0 members" in a.summary.value
    a.note.value = "Fixed our supplier import"
    a.submit()
    assert "You applied this" in a.summary.value
    a.note.value = "Fixed our supplier import and the HR one"
    a.submit()
    as_member("ben")
    assert "1 member of the cohort applied this" in applied("read-csv-encoding").summary.value


def test_share_and_reuse(as_member, store, cohort, tmp_path, monkeypatch):
    nb = tmp_path / "my-analysis.ipynb"
    nb.write_text('{"cells": []}')
    as_member("ana")
    form = share(str(nb))
    form.tags.value = "pandas, groupby"
    made = form.submit()
    assert made["filename"] == "my-analysis.ipynb"
    assert made["tags"] == ["pandas", "groupby"]
    own = library(folder=str(tmp_path))
    own.fetch(made["id"])  # the author's own copy is not a reuse
    assert count(store, ArtifactReuse, ArtifactReuse.member_id.in_(ours(cohort))) == 0
    as_member("ben")
    lib = library(folder=str(tmp_path))
    assert "my analysis" in lib.children[2].children[0].value
    copy = lib.fetch(made["id"])
    assert copy.name == "my-analysis (3).ipynb"  # two files already there: never overwrite
    assert copy.read_text() == '{"cells": []}'
    assert count(store, ArtifactReuse, ArtifactReuse.member_id.in_(ours(cohort))) == 1
