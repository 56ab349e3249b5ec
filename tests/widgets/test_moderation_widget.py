"""Moderation in the notebook, against a real service: a new member's first post shown to
her alone as waiting for approval, the code of conduct above the compose box and in the
charter, a champion approving it from ``moderation()``, rejecting with a reason the author
reads, and a learner refused in words."""

from __future__ import annotations

from nbcohort.cohorts.client import CohortClient
from nbcohort.widgets import _connection, charter, discussion, moderation
from nbcohort.widgets.discussion import Discussion
from nbcohort.widgets.moderation import Moderation
from tests.helpers.moderation import set_charter

ANCHOR = "module-1/reading-files"


def _buttons(widget, name):
    out = []
    for child in getattr(widget, "children", ()):
        if getattr(child, "description", None) == name:
            out.append(child)
        out += _buttons(child, name)
    return out


def _texts(widget):
    out = []
    for child in getattr(widget, "children", ()):
        if child.__class__.__name__ == "Text":
            out.append(child)
        out += _texts(child)
    return out


def test_a_champion_approves_a_held_first_post_in_the_widget(
    as_member, service, tokens, store, cohort
):
    set_charter(store, cohort.id, hold_first_posts=1)
    as_member("ana")
    d = discussion(ANCHOR, expanded=True)
    assert isinstance(d, Discussion)
    assert "assume good intent" in d.conduct.value and "<script" not in d.conduct.value
    d.composer.text.value = "Numbat: my very first post"
    d.composer.submit()
    assert "waiting for approval" in d.held.value and "Numbat" in d.held.value
    assert d.posts.children == () and d.composer.text.value == ""
    as_member("ben")
    other = discussion(ANCHOR, expanded=True)
    assert "Numbat" not in other.held.value and other.posts.children == ()
    refused = moderation()
    assert isinstance(refused, Moderation)
    assert "for champions and facilitators" in refused.items.children[0].value
    as_member("chi")
    queue = moderation()
    assert "Numbat" in queue.items.children[0].children[0].value
    assert not _buttons(queue, "Grant")  # appeals are staff's
    (approve,) = _buttons(queue, "Approve")
    approve.click()
    assert "Approved" in queue.status.value
    assert "Nothing waits" in queue.items.children[0].value
    as_member("ben")
    seen = discussion(ANCHOR, expanded=True)
    assert [c.post["author"]["name"] for c in seen.posts.children] == ["Ana Souza"]


def test_a_rejection_needs_a_reason_that_the_author_then_reads(
    as_member, service, tokens, store, cohort
):
    set_charter(store, cohort.id, hold_first_posts=1)
    CohortClient(service.url, tokens["ana"], timeout=10).post(ANCHOR, "Quoll: buy my stuff")
    as_member("fay")
    queue = moderation()
    (reject,) = _buttons(queue, "Reject")
    reject.click()
    assert "Write a reason first" in queue.status.value
    (reason,) = _texts(queue.items.children[0])
    reason.value = "Advertising is <b>off topic</b> here <script>alert(1)</script>"
    reject.click()
    assert "Rejected" in queue.status.value
    as_member("ana")
    d = discussion(ANCHOR, expanded=True)
    assert "not approved" in d.held.value and "off topic" in d.held.value
    assert "<script" not in d.held.value
    shown = charter()
    assert "Code of conduct" in shown.body.value and "assume good intent" in shown.body.value


def test_moderation_is_one_calm_line_offline(monkeypatch):
    _connection.reset()
    monkeypatch.setenv("NBCOHORT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NBCOHORT_TOKEN", "nbc_whatever")
    out = moderation()
    assert "offline" in out.value
    _connection.reset()
