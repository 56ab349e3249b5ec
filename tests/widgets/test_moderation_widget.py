"""Moderation in the notebook, against a real service: a new member's first post shown to
her alone as waiting for approval, the code of conduct above the compose box and in the
charter, a champion approving it from ``moderation()``, rejecting with a reason the author
reads, and a learner refused in words."""

from __future__ import annotations

import pytest

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.widgets import _connection, charter, discussion, moderation
from nbcohort.widgets.discussion import Discussion
from nbcohort.widgets.moderation import Moderation
from tests.helpers.moderation import set_charter

# One service and database per module and leg; a cohort of its own per test.
from tests.helpers.shared_serve import (  # noqa: F401 - the fixtures
    serve_cohort,
    serve_db_url,
    serve_module_service,
    serve_module_world,
    serve_service,
    serve_store,
)

ANCHOR = "module-1/reading-files"


def _buttons(widget, name):
    out = []
    for child in getattr(widget, "children", ()):
        if getattr(child, "description", None) == name:
            out.append(child)
        out += _buttons(child, name)
    return out


def _html(widget) -> str:
    out = getattr(widget, "value", "") if widget.__class__.__name__ == "HTML" else ""
    for child in getattr(widget, "children", ()):
        out += _html(child)
    return out


def _areas(widget):
    out = []
    for child in getattr(widget, "children", ()):
        if child.__class__.__name__ == "Textarea":
            out.append(child)
        out += _areas(child)
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
    mine = moderation()  # a learner: no queue, only her own side
    assert isinstance(mine, Moderation)
    assert mine.head.layout.display == "none" and mine.items.children == ()
    assert "Numbat" not in _html(mine) and "your first posts wait" in _html(mine)
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


def test_a_rejected_author_appeals_from_the_widget_and_reads_the_answer(
    as_member, service, tokens, store, cohort
):
    set_charter(store, cohort.id, hold_first_posts=1)
    CohortClient(service.url, tokens["ana"], timeout=10).post(ANCHOR, "Wombat: my course notes")
    fay = CohortClient(service.url, tokens["fay"], timeout=10)
    [held] = fay.moderation_queue()["held"]
    fay.reject_held(held["id"], "Looks like an advert")
    as_member("ana")
    mine = moderation()
    shown = _html(mine.mine)
    assert "not approved" in shown and "Looks like an advert" in shown and "Wombat" in shown
    (appeal,) = _buttons(mine, "Appeal")
    appeal.click()
    assert "Say why first" in mine.mine.status.value
    (why,) = _areas(mine)
    why.value = "They are my notes from module 1, not an advert"
    appeal.click()
    assert "Appeal sent" in mine.mine.status.value
    assert not _buttons(mine, "Appeal")  # heard once: no second form
    assert "waiting for staff" in _html(mine.mine)
    as_member("fay")
    queue = moderation()
    assert "my notes from module 1" in _html(queue.items)
    (grant,) = _buttons(queue, "Grant")
    (reason,) = _texts(queue.items.children[-1])
    reason.value = "Agreed, welcome <script>alert(1)</script>"
    grant.click()
    assert "Granted" in queue.status.value
    as_member("ana")
    answered = _html(moderation().mine)
    assert "granted" in answered and "Agreed, welcome" in answered and "<script" not in answered
    as_member("ben")
    seen = discussion(ANCHOR, expanded=True)
    assert [c.post["author"]["name"] for c in seen.posts.children] == ["Ana Souza"]


def test_a_hidden_post_is_shown_to_its_author_with_the_reason_and_appealed_once(
    as_member, service, tokens
):
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    post = ana.post(ANCHOR, "Bilby: a strong opinion")
    CohortClient(service.url, tokens["fay"], timeout=10).moderate(
        post["id"], "hide", "Too harsh <img src=x onerror=alert(1)>"
    )
    as_member("ana")
    mine = moderation().mine
    shown = _html(mine)
    assert "was hidden by moderation" in shown and "Bilby" in shown
    assert "Too harsh &lt;img" in shown and "<img" not in shown
    (why,) = _areas(mine)
    why.value = "I said it kindly"
    (appeal,) = _buttons(mine, "Appeal")
    appeal.click()
    assert "Appeal sent" in mine.status.value and not _buttons(mine, "Appeal")
    with pytest.raises(ClientError, match="appealed this once already"):
        ana.appeal("Again", post_id=post["id"])
    as_member("ben")  # another learner reads none of it
    assert "Bilby" not in _html(moderation())


def test_moderation_is_one_calm_line_offline(monkeypatch):
    _connection.reset()
    monkeypatch.setenv("NBCOHORT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NBCOHORT_TOKEN", "nbc_whatever")
    out = moderation()
    assert "offline" in out.value
    _connection.reset()
