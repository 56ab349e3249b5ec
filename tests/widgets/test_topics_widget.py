"""The topics widget against a real service: before graduation it says why there are no
topics; after it, a member starts a topic, another opens it and replies, a hostile name comes
back as the service's refusal and nothing is written."""

from __future__ import annotations

import ipywidgets as w
import pytest
from sqlalchemy import func, select

from nbcohort.cohorts.models import Cohort, Thread
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.graduation import graduate
from nbcohort.widgets import topics
from nbcohort.widgets.topics import Topics
from tests.helpers.graduation import cohort_file

pytestmark = pytest.mark.slow


@pytest.fixture
def graduated(store, cohort):
    """The test cohort with a cohort file naming a community, graduated."""
    from nbcohort.cohorts.cohort_checks import check_cohort_file
    from nbcohort.cohorts.services.cohort_apply import apply_cohort_file

    spec, _ = check_cohort_file(cohort_file(cohort.slug, "pandas-practice"), "c.toml")
    assert spec is not None
    with store.write() as s:
        apply_cohort_file(s, Actor.system(), spec, "sha")

    def go():
        with store.write() as s:
            graduate(s, Actor.system(), s.get_one(Cohort, cohort.id))

    return go


def _shown(box: Topics) -> str:
    """The open topic's posts as the member sees them (each card's text)."""
    return "".join(card.body.value for card in box.posts.children)


def _threads(store) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(Thread)) or 0


def test_before_graduation_the_widget_says_why(as_member, graduated, people):
    as_member("ana")
    box = topics()
    assert isinstance(box, Topics)
    assert "has not graduated" in box.header.value
    assert box.start_form.layout.display == "none" and box.choice.options == ()


def test_start_open_and_reply_after_graduation(as_member, graduated, people, store):
    graduated()
    as_member("ana")
    box = topics()
    assert isinstance(box, Topics) and "Community pandas-practice" in box.header.value
    assert "No topics yet" in box.listing.value
    box.name.value, box.title.value = "merge-tips", "<b>Merge</b> tips"
    box.body.value = "How do you **check** a merge?"
    made = box.start()
    assert made is not None and "started topic/merge-tips" in box.status.value
    assert "&lt;b&gt;Merge&lt;/b&gt; tips" in box.listing.value  # a title is text
    assert "<strong>check</strong>" in _shown(box)
    as_member("ben")
    other = topics()
    assert isinstance(other, Topics)
    assert [v for _label, v in other.choice.options] == ["merge-tips"]
    other.choice.value = "merge-tips"
    assert other.open_topic() is not None and other.reply_form.layout.display == ""
    other.reply_box.value = "validate='one_to_one'"
    assert other.reply() is not None
    assert "one_to_one" in _shown(other) and "posted" in other.status.value
    before = _threads(store)
    other.name.value, other.title.value, other.body.value = "../etc", "x", "y"
    assert other.start() is None
    assert "not a path" in other.status.value
    assert _threads(store) == before


def test_offline_is_one_calm_line(monkeypatch):
    from nbcohort.widgets import _connection

    _connection.reset()
    monkeypatch.setenv("NBCOHORT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NBCOHORT_TOKEN", "nbc_whatever")
    widget = topics()
    assert isinstance(widget, w.HTML) and "community offline" in widget.value
    _connection.reset()
